//! The read path of the facade (trace by ID for now).

pub mod combine;
pub mod memory;
pub mod search;
pub mod span_id_dedupe;
pub mod tags;
pub mod trace_by_id;
