#!/usr/bin/env python3
"""Replays logical_trace.json through the OpenTelemetry Python SDK and one of its exporters.

Used by tests/tests/e2e/real_clients.rs; also runnable by hand against a running tracecore:

    .venv-e2e/otel/bin/python tests/python/emit_otel.py --exporter otlp-grpc \
        --endpoint 127.0.0.1:4317 --trace-id 0af7651916cd43dd8448eb211c80319c

Exporters and the venv that has them (see tests/python/requirements-*.txt):
  otel venv (SDK 1.45):   otlp-grpc, otlp-grpc-gzip, otlp-http, otlp-http-gzip, zipkin-json
  zipkin-proto venv:      zipkin-proto
  jaeger venv (SDK 1.21): jaeger-thrift-agent (UDP compact), jaeger-thrift-http,
                          jaeger-proto-grpc

--endpoint is host:port for the gRPC exporters and the UDP agent, a URL for the HTTP ones.
Spans go through a BatchSpanProcessor; the provider is shut down (flushed) before exiting.
Exits 0 only when every export call reported success; prints one JSON line:
{"exporter": ..., "trace_id": ..., "spans": N, "exports": N}.
"""

import argparse
import json
import os
import sys
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

HERE = os.path.dirname(os.path.abspath(__file__))

KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}

STATUS = {"unset": StatusCode.UNSET, "ok": StatusCode.OK, "error": StatusCode.ERROR}


def typed(attr):
    kind, value = attr["type"], attr["value"]
    if kind == "string":
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind == "double":
        return float(value)
    if kind == "string_array":
        return tuple(str(v) for v in value)
    raise ValueError(f"unknown attribute type {kind!r}")


def attributes(list_):
    return {a["key"]: typed(a) for a in list_}


class FixedIds(IdGenerator):
    """The trace ID from the command line; span IDs handed out by the replay, in order."""

    def __init__(self, trace_id):
        self.trace_id = trace_id
        self.next_span_id = None

    def generate_trace_id(self):
        return self.trace_id

    def generate_span_id(self):
        if self.next_span_id is None:
            raise RuntimeError("span ID requested outside the replay")
        span_id, self.next_span_id = self.next_span_id, None
        return span_id


class Checked(SpanExporter):
    """Delegates to the real exporter and remembers whether every export succeeded."""

    def __init__(self, inner):
        self.inner = inner
        self.exports = 0
        self.failures = 0
        self.spans = 0

    def export(self, spans):
        result = self.inner.export(spans)
        self.exports += 1
        self.spans += len(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        flush = getattr(self.inner, "force_flush", None)
        return flush(timeout_millis) if flush else True


def make_exporter(name, endpoint):
    if name in ("otlp-grpc", "otlp-grpc-gzip"):
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        compression = Compression.Gzip if name.endswith("gzip") else Compression.NoCompression
        return OTLPSpanExporter(endpoint=endpoint, insecure=True, compression=compression)
    if name in ("otlp-http", "otlp-http-gzip"):
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        compression = Compression.Gzip if name.endswith("gzip") else Compression.NoCompression
        return OTLPSpanExporter(endpoint=endpoint, compression=compression)
    if name == "zipkin-json":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    if name == "zipkin-proto":
        from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    if name == "jaeger-thrift-agent":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        host, port = endpoint.rsplit(":", 1)
        return JaegerExporter(agent_host_name=host, agent_port=int(port))
    if name == "jaeger-thrift-http":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        return JaegerExporter(collector_endpoint=endpoint)
    if name == "jaeger-proto-grpc":
        from opentelemetry.exporter.jaeger.proto.grpc import JaegerExporter

        return JaegerExporter(collector_endpoint=endpoint, insecure=True)
    raise SystemExit(f"unknown exporter {name!r}")


def replay(tracer, ids, spec, trace_id, base_ns):
    """Starts and ends every span of the spec with its fixed IDs and times."""
    started = {}
    for s in spec["spans"]:
        parent = started.get(s["parent"]) if s["parent"] else None
        context = trace.set_span_in_context(parent) if parent else None
        links = [
            Link(
                SpanContext(
                    trace_id=trace_id,
                    span_id=int(link["span_id"], 16),
                    is_remote=False,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED),
                ),
                attributes(link["attributes"]),
            )
            for link in s["links"]
        ]
        ids.next_span_id = int(s["span_id"], 16)
        span = tracer.start_span(
            s["name"],
            context=context,
            kind=KINDS[s["kind"]],
            attributes=attributes(s["attributes"]),
            links=links,
            start_time=base_ns + s["start_us"] * 1000,
        )
        for event in s["events"]:
            span.add_event(
                event["name"],
                attributes(event["attributes"]),
                timestamp=base_ns + event["at_us"] * 1000,
            )
        status = STATUS[s["status"]["code"]]
        if status is not StatusCode.UNSET:
            message = s["status"]["message"] or None
            span.set_status(Status(status, message if status is StatusCode.ERROR else None))
        started[s["span_id"]] = span
    # End in reverse start order, like nested code would.
    for s in reversed(spec["spans"]):
        started[s["span_id"]].end(end_time=base_ns + s["end_us"] * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--trace-id", required=True, help="32 hex digits")
    parser.add_argument(
        "--base-time-ns",
        type=int,
        default=None,
        help="start of the trace (a multiple of 1000); default: now, rounded to the millisecond",
    )
    parser.add_argument("--spec", default=os.path.join(HERE, "logical_trace.json"))
    args = parser.parse_args()

    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    trace_id = int(args.trace_id, 16)
    if len(args.trace_id) != 32 or trace_id == 0:
        raise SystemExit("--trace-id must be 32 hex digits, not all zero")
    base_ns = args.base_time_ns
    if base_ns is None:
        base_ns = time.time_ns() // 1_000_000 * 1_000_000

    resource_attrs = {"service.name": spec["service"]}
    resource_attrs.update(attributes(spec["resource"]))
    ids = FixedIds(trace_id)
    provider = TracerProvider(resource=Resource.create(resource_attrs), id_generator=ids)
    exporter = Checked(make_exporter(args.exporter, args.endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    tracer = provider.get_tracer(spec["scope"]["name"], spec["scope"]["version"])

    replay(tracer, ids, spec, trace_id, base_ns)
    provider.shutdown()

    print(
        json.dumps(
            {
                "exporter": args.exporter,
                "trace_id": f"{trace_id:032x}",
                "spans": exporter.spans,
                "exports": exporter.exports,
                "failures": exporter.failures,
            }
        ),
        flush=True,
    )
    if exporter.failures or exporter.spans != len(spec["spans"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
