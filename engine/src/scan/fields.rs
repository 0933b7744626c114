//! Loading intrinsics and attributes of a [`SpanBatch`] as [`Values`].
//!
//! Span attributes are found with one vectorized key compare over the flattened attribute
//! list, then gathered per span. Resource and scope fields are resolved once per dictionary
//! value and mapped to spans through the dictionary keys, so `resource.X = "y"` compares each
//! distinct resource once. Event and link fields stay on event/link rows (see `Values::owners`).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, FixedSizeBinaryBuilder, Float64Array,
    Int32Array, Int64Array, ListArray, StringArray, StructArray, UInt32Array,
};
use arrow::compute::kernels::cmp;
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Int32Type, UInt64Type};
use prost::Message as _;
use tracecore_proto::otlp::{AnyValue, KeyValue, KeyValueList, any_value};
use tracecore_traceql::{Attribute, AttributeScope, Intrinsic};

use super::arrays::{self, ArrayElements, ElementsBuilder};
use super::batch::SpanBatch;
use super::error::ScanError;
use super::values::{Lane, Values};
use crate::block::dedicated::{self, DEDICATED, DedicatedKind};
use crate::block::schema::{
    ATTRIBUTE_CHILDREN, attr, col, dedicated_column, event, link, resource_service_name,
};

/// Loads one intrinsic for every span row of `batch`.
pub(crate) fn intrinsic(batch: &SpanBatch, which: Intrinsic) -> Result<Values, ScanError> {
    let mut v = Values::default();
    match which {
        Intrinsic::Duration => {
            v.int = Some(Lane::rows(to_i64(batch.column(col::DURATION_NANO)?)?));
            v.duration = true;
        }
        Intrinsic::TraceDuration => {
            v.int = Some(Lane::rows(to_i64(batch.column(col::TRACE_DURATION_NANO)?)?));
            v.duration = true;
        }
        Intrinsic::Name => v.str = Some(Lane::rows(batch.column(col::NAME)?.clone())),
        Intrinsic::StatusMessage => {
            v.str = Some(Lane::rows(batch.column(col::STATUS_MESSAGE)?.clone()));
        }
        Intrinsic::TraceRootName | Intrinsic::TraceRootService => {
            let column = if which == Intrinsic::TraceRootName {
                col::ROOT_SPAN_NAME
            } else {
                col::ROOT_SERVICE_NAME
            };
            let unknown = arrow::compute::not(&batch.root_known()?)?;
            v.str = Some(Lane::rows(arrow::compute::nullif(
                batch.column(column)?.as_ref(),
                &unknown,
            )?));
        }
        Intrinsic::Status => {
            let codes = batch.i32_column(col::STATUS_CODE)?;
            let filled: Int32Array = codes.iter().map(|c| Some(c.unwrap_or(0))).collect();
            v.status = Some(Lane::rows(Arc::new(filled)));
        }
        Intrinsic::Kind => v.kind = Some(Lane::rows(batch.column(col::KIND)?.clone())),
        Intrinsic::SpanId => v.bytes = Some(Lane::rows(batch.column(col::SPAN_ID)?.clone())),
        Intrinsic::TraceId => v.bytes = Some(Lane::rows(batch.column(col::TRACE_ID)?.clone())),
        Intrinsic::ParentId => v.bytes = Some(Lane::rows(parent_ids(batch)?)),
        Intrinsic::InstrumentationName | Intrinsic::InstrumentationVersion => {
            let scopes = batch.scopes()?;
            let values: StringArray = scopes
                .iter()
                .map(|s| {
                    Some(if which == Intrinsic::InstrumentationName {
                        s.name.as_str()
                    } else {
                        s.version.as_str()
                    })
                })
                .collect();
            let keys = batch.dictionary_keys(col::SCOPE)?.clone();
            v.str = Some(Lane::rows(Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys,
                Arc::new(values),
            )?)));
        }
        Intrinsic::EventName | Intrinsic::EventTimeSinceStart => {
            let (items, owners) = list_items(batch, col::EVENTS)?;
            if which == Intrinsic::EventName {
                v.str = Some(Lane::rows(items.column(event::NAME).clone()));
            } else {
                v.int = Some(Lane::rows(items.column(event::TIME_OFFSET_NANO).clone()));
                v.duration = true;
            }
            v.owners = Some(owners);
        }
        Intrinsic::LinkTraceId | Intrinsic::LinkSpanId => {
            let (items, owners) = list_items(batch, col::LINKS)?;
            let child = if which == Intrinsic::LinkTraceId {
                link::TRACE_ID
            } else {
                link::SPAN_ID
            };
            v.bytes = Some(Lane::rows(items.column(child).clone()));
            v.owners = Some(owners);
        }
        Intrinsic::ChildCount
        | Intrinsic::NestedSetLeft
        | Intrinsic::NestedSetRight
        | Intrinsic::NestedSetParent => {
            v.int = Some(Lane::rows(Arc::new(tree_numbers(batch, which)?)));
        }
        Intrinsic::Parent => return Err(ScanError::Unsupported("intrinsic (parent)".into())),
    }
    Ok(v)
}

fn to_i64(array: &ArrayRef) -> Result<ArrayRef, ScanError> {
    // Durations above i64::MAX nanoseconds (292 years) saturate rather than wrap.
    let a = array
        .as_primitive_opt::<UInt64Type>()
        .ok_or(ScanError::Internal("expected a UInt64 column"))?;
    // PERFORMANCE-CRITICAL: a branch-free unary kernel (nulls carried over), no per-row Option.
    let out: Int64Array = a.unary(|x| i64::try_from(x).unwrap_or(i64::MAX));
    Ok(Arc::new(out))
}

/// Parent span IDs: the parent row's span ID, or the stored `parent_span_id`.
fn parent_ids(batch: &SpanBatch) -> Result<ArrayRef, ScanError> {
    let span_ids = batch.fixed_binary_column(col::SPAN_ID)?;
    let stored = batch.fixed_binary_column(col::PARENT_SPAN_ID)?;
    let parents = batch.parent_rows()?;
    let mut out = FixedSizeBinaryBuilder::with_capacity(batch.rows(), 8);
    for (row, parent) in parents.iter().enumerate() {
        match parent {
            Some(p) => out.append_value(span_ids.value(*p as usize))?,
            None if stored.is_valid(row) => out.append_value(stored.value(row))?,
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Child counts and nested-set numbers per span, computed from parent rows per trace.
fn tree_numbers(batch: &SpanBatch, which: Intrinsic) -> Result<Int64Array, ScanError> {
    let parents = batch.parent_rows()?;
    let rows = batch.rows();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); rows];
    for (row, p) in parents.iter().enumerate() {
        if let Some(p) = p {
            children[*p as usize].push(row as u32);
        }
    }
    if which == Intrinsic::ChildCount {
        return Ok(children.iter().map(|c| Some(c.len() as i64)).collect());
    }
    let mut left = vec![-1i64; rows];
    let mut right = vec![-1i64; rows];
    for range in batch.traces() {
        let mut counter = 1i64;
        for root in range.clone().filter(|&r| parents[r].is_none()) {
            // Iterative DFS: (row, next child index).
            let mut stack: Vec<(u32, usize)> = vec![(root as u32, 0)];
            left[root] = counter;
            counter += 1;
            while let Some((row, next)) = stack.last_mut() {
                let r = *row as usize;
                if let Some(&child) = children[r].get(*next) {
                    *next += 1;
                    if left[child as usize] < 0 {
                        left[child as usize] = counter;
                        counter += 1;
                        stack.push((child, 0));
                    }
                } else {
                    right[r] = counter;
                    counter += 1;
                    stack.pop();
                }
            }
        }
    }
    Ok(match which {
        Intrinsic::NestedSetLeft => left.into_iter().map(Some).collect(),
        Intrinsic::NestedSetRight => right.into_iter().map(Some).collect(),
        _ => parents
            .iter()
            .map(|p| Some(p.map_or(-1, |p| left[p as usize])))
            .collect(),
    })
}

/// The struct items of a list column and, for each item, its span row.
fn list_items(
    batch: &SpanBatch,
    column: usize,
) -> Result<(StructArray, Arc<UInt32Array>), ScanError> {
    let list = batch
        .column(column)?
        .as_list_opt::<i32>()
        .ok_or(ScanError::Internal("expected a list column"))?;
    Ok((items_of(list)?, Arc::new(owners_of(list))))
}

fn items_of(list: &ListArray) -> Result<StructArray, ScanError> {
    // The item range of the whole list (a sliced list may not start at item 0).
    let offsets = list.value_offsets();
    let first = offsets.first().copied().unwrap_or(0) as usize;
    let last = offsets.last().copied().unwrap_or(0) as usize;
    let items = list
        .values()
        .as_struct_opt()
        .ok_or(ScanError::Internal("list items are not structs"))?;
    Ok(items.slice(first, last - first))
}

fn owners_of(list: &ListArray) -> UInt32Array {
    let offsets = list.value_offsets();
    let base = offsets.first().copied().unwrap_or(0);
    let mut owners = Vec::with_capacity((offsets.last().copied().unwrap_or(0) - base) as usize);
    for row in 0..list.len() {
        let n = (offsets[row + 1] - offsets[row]) as usize;
        owners.extend(std::iter::repeat_n(row as u32, n));
    }
    UInt32Array::from(owners)
}

/// Loads an attribute for every span row (event and link scopes: for every event/link row).
pub(crate) fn attribute(batch: &SpanBatch, attribute: &Attribute) -> Result<Values, ScanError> {
    if attribute.parent {
        return Err(ScanError::Unsupported("parent".into()));
    }
    let name = attribute.name.as_str();
    match attribute.scope {
        AttributeScope::Span => span_attribute(batch, name),
        AttributeScope::Resource => resource_attribute(batch, name),
        AttributeScope::Unscoped => {
            let span = span_attribute(batch, name)?;
            let resource = resource_attribute(batch, name)?;
            coalesce(batch.rows(), span, resource)
        }
        AttributeScope::Instrumentation => {
            let scopes = batch.scopes()?;
            let per_value: Vec<Option<AnyValue>> = scopes
                .iter()
                .map(|s| find_value(&s.attributes, name))
                .collect();
            dictionary_values(per_value, batch.dictionary_keys(col::SCOPE)?)
        }
        AttributeScope::Event | AttributeScope::Link => {
            let (column, child) = if attribute.scope == AttributeScope::Event {
                (col::EVENTS, event::ATTRIBUTES)
            } else {
                (col::LINKS, link::ATTRIBUTES)
            };
            let (items, owners) = list_items(batch, column)?;
            let encoded = items.column(child).as_binary::<i32>();
            let mut values = Vec::with_capacity(encoded.len());
            for i in 0..encoded.len() {
                let list = KeyValueList::decode(encoded.value(i)).map_err(ScanError::Decode)?;
                values.push(find_value(&list.values, name));
            }
            let mut v = values_from_any(&values);
            v.owners = Some(owners);
            Ok(v)
        }
    }
}

fn find_value(attributes: &[KeyValue], name: &str) -> Option<AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == name)
        .map(|kv| kv.value.clone().unwrap_or_default())
}

/// Per-row values from decoded `AnyValue`s (`None` = missing).
fn values_from_any(values: &[Option<AnyValue>]) -> Values {
    let mut str = Vec::with_capacity(values.len());
    let mut int = Vec::with_capacity(values.len());
    let mut float = Vec::with_capacity(values.len());
    let mut boolean = Vec::with_capacity(values.len());
    let mut present = Vec::with_capacity(values.len());
    for v in values {
        let inner = v.as_ref().map(|v| v.value.as_ref());
        present.push(v.is_some());
        str.push(match inner {
            Some(Some(any_value::Value::StringValue(s))) => Some(s.clone()),
            _ => None,
        });
        int.push(match inner {
            Some(Some(any_value::Value::IntValue(i))) => Some(*i),
            _ => None,
        });
        float.push(match inner {
            Some(Some(any_value::Value::DoubleValue(f))) => Some(*f),
            _ => None,
        });
        boolean.push(match inner {
            Some(Some(any_value::Value::BoolValue(b))) => Some(*b),
            _ => None,
        });
    }
    Values {
        str: Some(Lane::rows(Arc::new(StringArray::from(str)))),
        int: Some(Lane::rows(Arc::new(Int64Array::from(int)))),
        float: Some(Lane::rows(Arc::new(Float64Array::from(float)))),
        boolean: Some(Lane::rows(Arc::new(BooleanArray::from(boolean)))),
        present: Some(BooleanArray::from(present)),
        ..Values::default()
    }
}

/// Values decided per dictionary value, mapped to rows through `keys`.
fn dictionary_values(
    per_value: Vec<Option<AnyValue>>,
    keys: &Int32Array,
) -> Result<Values, ScanError> {
    let dict = values_from_any(&per_value);
    let is_array = |v: &Option<AnyValue>| {
        matches!(
            v,
            Some(AnyValue {
                value: Some(any_value::Value::ArrayValue(_))
            })
        )
    };
    let elements = if per_value.iter().any(is_array) {
        let mut elements = ElementsBuilder::new(keys.len());
        for (row, key) in keys.iter().enumerate() {
            if let Some(Some(value)) = key.and_then(|k| per_value.get(k as usize)) {
                elements.push(row, value);
            }
        }
        elements.finish()
    } else {
        None
    };
    let indices: UInt32Array = keys.iter().map(|k| k.map(|k| k as u32)).collect();
    let mut out = Values::default();
    if let Some(lane) = &dict.str {
        // Strings stay dictionary-encoded: compared once per distinct resource.
        out.str = Some(Lane::rows(Arc::new(DictionaryArray::<Int32Type>::try_new(
            keys.clone(),
            lane.array.clone(),
        )?)));
    }
    for (src, dst) in [
        (&dict.int, &mut out.int),
        (&dict.float, &mut out.float),
        (&dict.boolean, &mut out.boolean),
    ] {
        if let Some(lane) = src {
            *dst = Some(Lane::rows(take(lane.array.as_ref(), &indices, None)?));
        }
    }
    if let Some(present) = &dict.present {
        out.present = Some(take(present, &indices, None)?.as_boolean().clone());
    }
    out.elements = elements;
    Ok(out)
}

fn resource_attribute(batch: &SpanBatch, name: &str) -> Result<Values, ScanError> {
    if name == "service.name"
        && batch.column(col::RESOURCE).is_err()
        && let Ok(service) = batch.column(col::SERVICE_NAME)
    {
        // Read without `resource` only from blocks whose service names are exact
        // (`block::layout`).
        return Ok(Values {
            str: Some(Lane::rows(service.clone())),
            ..Values::default()
        });
    }
    if name == "service.name" && batch.column(col::SERVICE_NAME).is_ok() {
        // The `service_name` column holds string service names; other types live only in the
        // resource. Each distinct resource is checked on its bytes, not decoded.
        let encoded = batch
            .column(col::RESOURCE)?
            .as_dictionary_opt::<Int32Type>()
            .ok_or(ScanError::Internal("resource is not a dictionary"))?
            .values()
            .as_binary_opt::<i32>()
            .ok_or(ScanError::Internal("resource values are not binary"))?;
        let mut exists = Vec::with_capacity(encoded.len());
        let mut all_strings = true;
        for i in 0..encoded.len() {
            match resource_service_name(encoded.value(i)).map_err(ScanError::Block)? {
                None => exists.push(false),
                Some(true) => exists.push(true),
                Some(false) => {
                    all_strings = false;
                    break;
                }
            }
        }
        if all_strings {
            let service = batch.column(col::SERVICE_NAME)?;
            if exists.iter().all(|&e| e) {
                return Ok(Values {
                    str: Some(Lane::rows(service.clone())),
                    ..Values::default()
                });
            }
            let exists = BooleanArray::from(exists);
            let keys = batch.dictionary_keys(col::RESOURCE)?;
            let indices: UInt32Array = keys.iter().map(|k| k.map(|k| k as u32)).collect();
            let present = take(&exists, &indices, None)?.as_boolean().clone();
            // Spans without service.name: null, not "".
            let str = arrow::compute::nullif(service.as_ref(), &arrow::compute::not(&present)?)?;
            return Ok(Values {
                str: Some(Lane::rows(str)),
                ..Values::default()
            });
        }
    }
    let resources = batch.resource_attributes()?;
    let per_value: Vec<Option<AnyValue>> = resources
        .iter()
        .map(|attrs| find_value(attrs, name))
        .collect();
    dictionary_values(per_value, batch.dictionary_keys(col::RESOURCE)?)
}

/// A span attribute: its dedicated column (`tc2`) where set, else the first entry of the
/// generic list (see `block::dedicated`). Without the list in the batch (the plan leaves it
/// out of blocks whose list holds no such key) the dedicated column alone.
fn span_attribute(batch: &SpanBatch, name: &str) -> Result<Values, ScanError> {
    let Some(s) = dedicated::slot(name.as_bytes()) else {
        return list_attribute(batch, name);
    };
    let Ok(column) = batch.column(dedicated_column(s)) else {
        return list_attribute(batch, name);
    };
    let mut own = Values::default();
    let lane = Some(Lane::rows(column.clone()));
    match DEDICATED[s].kind {
        DedicatedKind::Text | DedicatedKind::Label => own.str = lane,
        DedicatedKind::Int => own.int = lane,
    }
    if batch.column(col::ATTRIBUTES).is_err() {
        return Ok(own);
    }
    coalesce(batch.rows(), own, list_attribute(batch, name)?)
}

// PERFORMANCE-CRITICAL: one vectorized compare over every attribute key of the batch, then a
// walk over the matching entries only.
fn list_attribute(batch: &SpanBatch, name: &str) -> Result<Values, ScanError> {
    let list = batch
        .column(col::ATTRIBUTES)?
        .as_list_opt::<i32>()
        .ok_or(ScanError::Internal("attributes is not a list"))?;
    let items = list
        .values()
        .as_struct_opt()
        .ok_or(ScanError::Internal("attribute items are not structs"))?;
    // A prefilter reads only the entry fields its conditions compare: look them up by name.
    let child = |c: usize| items.column_by_name(ATTRIBUTE_CHILDREN[c]);
    let keys = child(attr::KEY).ok_or(ScanError::MissingColumn("attributes.key"))?;
    let needle = arrow::array::Scalar::new(StringArray::from(vec![name]));
    let hits = cmp::eq(keys, &needle)?;
    let offsets = list.value_offsets();
    let rows = list.len();
    let mut index: Vec<Option<u32>> = vec![None; rows];
    let mut row = 0usize;
    for entry in hits.values().set_indices() {
        let entry = entry as i32;
        while row < rows && offsets[row + 1] <= entry {
            row += 1;
        }
        if row < rows && offsets[row] <= entry && index[row].is_none() {
            index[row] = Some(entry as u32);
        }
    }
    let indices = UInt32Array::from(index);
    let gather = |c: usize| -> Result<Option<Lane>, ScanError> {
        child(c)
            .map(|values| Ok(Lane::rows(take(values.as_ref(), &indices, None)?)))
            .transpose()
    };
    let present = arrow::compute::is_not_null(&indices)?;
    Ok(Values {
        str: gather(attr::STR)?,
        int: gather(attr::INT)?,
        float: gather(attr::DOUBLE)?,
        boolean: gather(attr::BOOL)?,
        present: Some(present),
        elements: list_array_elements(items, &indices)?,
        ..Values::default()
    })
}

/// The elements of the array values among the entries `indices` picked (one per row): only
/// entries with an `other` value are decoded.
fn list_array_elements(
    items: &arrow::array::StructArray,
    indices: &UInt32Array,
) -> Result<Option<Arc<ArrayElements>>, ScanError> {
    let Some(other) = items
        .column_by_name(ATTRIBUTE_CHILDREN[attr::OTHER])
        .and_then(|c| c.as_binary_opt::<i32>())
    else {
        return Ok(None);
    };
    if other.null_count() == other.len() {
        return Ok(None);
    }
    let mut elements = ElementsBuilder::new(indices.len());
    for (row, entry) in indices.iter().enumerate() {
        if let Some(e) = entry.map(|e| e as usize)
            && other.is_valid(e)
        {
            let value = AnyValue::decode(other.value(e)).map_err(ScanError::Decode)?;
            elements.push(row, &value);
        }
    }
    Ok(elements.finish())
}

/// `first` where it exists, else `second` (unscoped attributes: span, then resource).
fn coalesce(rows: usize, first: Values, second: Values) -> Result<Values, ScanError> {
    let use_first = first.exists(rows)?;
    let pick = |a: &Option<Lane>, b: &Option<Lane>| -> Result<Option<Lane>, ScanError> {
        match (a, b) {
            (Some(a), Some(b)) => {
                let b_array = match (a.array.data_type(), b.array.data_type()) {
                    (x, y) if x == y => b.array.clone(),
                    (x, _) => cast(b.array.as_ref(), x)?,
                };
                Ok(Some(Lane::rows(arrow::compute::kernels::zip::zip(
                    &use_first, &a.array, &b_array,
                )?)))
            }
            (Some(a), None) => Ok(Some(Lane::rows(arrow::compute::nullif(
                a.array.as_ref(),
                &arrow::compute::not(&use_first)?,
            )?))),
            (None, Some(b)) => Ok(Some(Lane::rows(arrow::compute::nullif(
                b.array.as_ref(),
                &use_first,
            )?))),
            (None, None) => Ok(None),
        }
    };
    // A dictionary string lane is cast to plain strings so both sides share a type.
    let plain = |l: &Option<Lane>| -> Result<Option<Lane>, ScanError> {
        l.as_ref()
            .map(|l| match l.array.data_type() {
                DataType::Dictionary(_, _) => {
                    Ok(Lane::rows(cast(l.array.as_ref(), &DataType::Utf8)?))
                }
                _ => Ok(l.clone()),
            })
            .transpose()
    };
    let present = match (&first.present, &second.present) {
        (Some(a), Some(b)) => Some(arrow::compute::or(a, b)?),
        (Some(a), None) | (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    };
    Ok(Values {
        str: pick(&plain(&first.str)?, &plain(&second.str)?)?,
        int: pick(&first.int, &second.int)?,
        float: pick(&first.float, &second.float)?,
        boolean: pick(&first.boolean, &second.boolean)?,
        present,
        elements: arrays::coalesce(
            &use_first,
            first.elements.as_ref(),
            second.elements.as_ref(),
        )?,
        ..Values::default()
    })
}
