//! The Jaeger agent protocol over UDP: one datagram is one `Agent.emitBatch` (or
//! `emitZipkinBatch`) call, Thrift compact on Tempo's default port 6831, Thrift binary on 6832.
//!
//! UDP has no acknowledgement and no backpressure, so this receiver never blocks the socket on
//! the write path and never fails: every datagram ends in exactly one outcome of
//! `tracecore_receiver_datagrams_total{receiver, outcome}`:
//! * `accepted` — written to the WAL;
//! * `malformed` — did not decode (also `tempo_discarded_spans_total{reason="malformed_request"}`
//!   by one, and a debug log);
//! * `overloaded` — all `workers` writes were in flight, or a shard refused it (the spans are
//!   counted in `tempo_discarded_spans_total{reason="rate_limited"}`);
//! * `refused_multitenant` — multitenancy is on and a datagram carries no `X-Scope-OrgID`;
//! * `failed` — any other write error.
//!
//! Datagrams are read into one 65,535-byte buffer (the largest UDP payload) and decoded on the
//! receive task (bounded by the datagram size); writes run as tasks, at most `workers` at once.
//! On shutdown the receive loop stops and in-flight writes are awaited.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, watch};
use tracecore_engine::{ErrorKind, TenantId};

use crate::api::request_metrics::observe;
use crate::ingest::Ingester;
use crate::jaeger::{AgentProtocol, decode_agent_datagram};
use crate::telemetry::RpcMetrics;

/// The largest UDP payload.
const MAX_DATAGRAM_BYTES: usize = 65_535;
/// How long shutdown waits for in-flight writes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// One agent UDP receiver (compact or binary).
pub struct JaegerUdpReceiver {
    socket: UdpSocket,
    protocol: AgentProtocol,
    ingester: Arc<Ingester>,
    metrics: RpcMetrics,
    multitenancy: bool,
    workers: usize,
    /// UDP carries no headers: every datagram belongs to the single tenant.
    tenant: TenantId,
}

impl JaegerUdpReceiver {
    pub fn new(
        socket: UdpSocket,
        protocol: AgentProtocol,
        ingester: Arc<Ingester>,
        metrics: RpcMetrics,
        multitenancy: bool,
        workers: usize,
    ) -> Self {
        JaegerUdpReceiver {
            socket,
            protocol,
            ingester,
            metrics,
            multitenancy,
            workers: workers.max(1),
            tenant: TenantId::single(),
        }
    }

    /// The metric label of this receiver.
    fn name(&self) -> &'static str {
        match self.protocol {
            AgentProtocol::Compact => "jaeger_thrift_compact",
            AgentProtocol::Binary => "jaeger_thrift_binary",
        }
    }

    /// Receives until `stop` turns true, then waits for in-flight writes.
    pub async fn serve(self, mut stop: watch::Receiver<bool>) -> Result<(), String> {
        let name = self.name();
        let in_flight = Arc::new(Semaphore::new(self.workers));
        let mut buffer = vec![0u8; MAX_DATAGRAM_BYTES];
        loop {
            let received = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                received = self.socket.recv_from(&mut buffer) => received,
            };
            let len = match received {
                Ok((len, _peer)) => len,
                Err(error) => {
                    // ICMP errors surface as recv errors on some systems; none is fatal.
                    tracing::debug!(receiver = name, %error, "udp receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            self.handle(&buffer[..len], &in_flight);
        }
        let drained = tokio::time::timeout(
            DRAIN_TIMEOUT,
            in_flight.acquire_many(u32::try_from(self.workers).unwrap_or(u32::MAX)),
        )
        .await;
        if drained.is_err() {
            tracing::warn!(receiver = name, "udp writes still in flight after 10s");
        }
        Ok(())
    }

    // PERFORMANCE-CRITICAL: runs on the receive task for every datagram; no blocking, one
    // decode bounded by the datagram size, batch-level metrics only.
    fn handle(&self, datagram: &[u8], in_flight: &Arc<Semaphore>) {
        let name = self.name();
        let tenant = &self.tenant;
        if self.multitenancy {
            self.metrics.datagram(name, "refused_multitenant");
            return;
        }
        let request = match decode_agent_datagram(datagram, self.protocol) {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(receiver = name, bytes = datagram.len(), %error, "malformed jaeger datagram");
                self.metrics.datagram(name, "malformed");
                self.metrics
                    .discard("malformed_request", tenant.as_str(), 1);
                return;
            }
        };
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            self.metrics.datagram(name, "overloaded");
            self.metrics
                .discard("rate_limited", tenant.as_str(), spans as u64);
            return;
        };
        let protobuf = Bytes::from(request.encode_to_vec());
        let tenant = tenant.clone();
        let ingester = self.ingester.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            // The ingester counts refused spans itself; here only the datagram's outcome.
            let outcome = match ingester.push(&tenant, &protobuf).await {
                Ok(_) => "accepted",
                Err(e) => match e.kind() {
                    ErrorKind::Overloaded | ErrorKind::Unavailable => "overloaded",
                    ErrorKind::InvalidArgument => "malformed",
                    ErrorKind::Internal => "failed",
                },
            };
            metrics.datagram(name, outcome);
            observe(
                &metrics,
                "UDP".to_string(),
                name.to_string(),
                if outcome == "accepted" {
                    "success"
                } else {
                    "error"
                }
                .to_string(),
                started,
            );
            drop(permit);
        });
    }
}
