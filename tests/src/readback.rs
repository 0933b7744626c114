//! Reading one trace back in every form the query API offers (v1/v2 × JSON/protobuf) and
//! checking each against what was sent.

use anyhow::{Context, bail};
use prost::Message;
use tracecore_proto::otlp::{ResourceSpans, TracesData};
use tracecore_proto::tempo::TraceByIdResponse;

use crate::client::{Client, Format};
use crate::normalize::compare_spans;
use crate::otlp_json::decode_tempo_trace;

/// One way of asking for a trace by ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    V1Json,
    V1Protobuf,
    V2Json,
    V2Protobuf,
}

impl Form {
    pub const ALL: [Form; 4] = [
        Form::V1Json,
        Form::V1Protobuf,
        Form::V2Json,
        Form::V2Protobuf,
    ];
}

fn expect_content_type(actual: &str, expected: &str, form: Form) -> anyhow::Result<()> {
    if !actual.starts_with(expected) {
        bail!("{form:?}: Content-Type {actual:?}, expected {expected}");
    }
    Ok(())
}

/// The trace with ID `id` (hex, as the URL carries it) in `form`; `None` when the server says it
/// does not exist (v1: 404; v2: 200 with an empty trace).
pub async fn read_trace(
    client: &Client,
    id: &str,
    form: Form,
) -> anyhow::Result<Option<Vec<ResourceSpans>>> {
    let reply = match form {
        Form::V1Json => client.get_trace_v1(id, Format::Json).await?,
        Form::V1Protobuf => client.get_trace_v1(id, Format::Protobuf).await?,
        Form::V2Json => client.get_trace_v2(id, Format::Json).await?,
        Form::V2Protobuf => client.get_trace_v2(id, Format::Protobuf).await?,
    };
    let found = |spans: Vec<ResourceSpans>| if spans.is_empty() { None } else { Some(spans) };
    match form {
        Form::V1Json | Form::V1Protobuf if reply.status == 404 => {
            if !reply.body.is_empty() {
                bail!("{form:?}: 404 with a non-empty body: {:.200}", reply.text());
            }
            Ok(None)
        }
        Form::V1Json => {
            reply.expect_status(200)?;
            expect_content_type(&reply.content_type, "application/json", form)?;
            let spans = decode_tempo_trace(&reply.json()?, "batches").context("v1 JSON")?;
            if spans.is_empty() {
                bail!("v1 JSON: 200 with an empty trace (Tempo answers 404)");
            }
            Ok(Some(spans))
        }
        Form::V1Protobuf => {
            reply.expect_status(200)?;
            expect_content_type(&reply.content_type, "application/protobuf", form)?;
            let trace = TracesData::decode(reply.body.clone())
                .context("v1 protobuf is not a tempopb.Trace")?;
            if trace.resource_spans.is_empty() {
                bail!("v1 protobuf: 200 with an empty trace (Tempo answers 404)");
            }
            Ok(Some(trace.resource_spans))
        }
        Form::V2Json => {
            reply.expect_status(200)?;
            expect_content_type(&reply.content_type, "application/json", form)?;
            let value = reply.json()?;
            let obj = value.as_object().context("v2 JSON body is not an object")?;
            if let Some(k) = obj
                .keys()
                .find(|k| !["trace", "metrics", "status", "message"].contains(&k.as_str()))
            {
                bail!("v2 JSON: unexpected top-level field {k:?}");
            }
            if let Some(status) = obj.get("status")
                && status != "COMPLETE"
                && status != "PARTIAL"
            {
                bail!("v2 JSON: status must be an enum name, got {status}");
            }
            let trace = obj.get("trace").context("v2 JSON has no \"trace\" field")?;
            Ok(found(
                decode_tempo_trace(trace, "resourceSpans").context("v2 JSON")?,
            ))
        }
        Form::V2Protobuf => {
            reply.expect_status(200)?;
            expect_content_type(&reply.content_type, "application/protobuf", form)?;
            let response = TraceByIdResponse::decode(reply.body.clone())
                .context("v2 protobuf is not a TraceByIDResponse")?;
            Ok(found(
                response.trace.map(|t| t.resource_spans).unwrap_or_default(),
            ))
        }
    }
}

/// Checks that the trace reads back span for span as `expected` in all four forms; the error
/// lists every form that disagreed.
pub async fn check_trace_everywhere(
    client: &Client,
    id: &[u8; 16],
    expected: &[ResourceSpans],
) -> anyhow::Result<()> {
    let id_hex = hex::encode(id);
    let mut problems = Vec::new();
    for form in Form::ALL {
        match read_trace(client, &id_hex, form).await {
            Err(e) => problems.push(format!("{form:?}: {e:#}")),
            Ok(None) => problems.push(format!("{form:?}: trace {id_hex} not found")),
            Ok(Some(spans)) => {
                if let Err(diff) = compare_spans(expected, &spans) {
                    problems.push(format!(
                        "{form:?}: trace {id_hex} differs from what was sent: {diff}"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// Checks that the trace is absent in all four forms.
pub async fn check_trace_absent(client: &Client, id: &[u8; 16]) -> anyhow::Result<()> {
    let id_hex = hex::encode(id);
    let mut problems = Vec::new();
    for form in Form::ALL {
        match read_trace(client, &id_hex, form).await {
            Err(e) => problems.push(format!("{form:?}: {e:#}")),
            Ok(Some(spans)) => problems.push(format!(
                "{form:?}: trace {id_hex} should be absent but {} resource spans came back",
                spans.len()
            )),
            Ok(None) => {}
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}
