#!/usr/bin/env python3
"""Replays logical_trace.json through `jaeger-client` (OpenTracing) to a Jaeger agent port:
Thrift compact `emitBatch` over UDP, as every jaeger-client deployment sends.

    .venv-e2e/jaeger/bin/python tests/python/emit_jaeger_client.py \
        --agent 127.0.0.1:6831 --trace-id 00000000000000004bf92f3577b34da6

What the OpenTracing API can say, it says the OpenTracing way: kinds as `span.kind` tags (no
tag for the spec's internal span: OpenTracing has no such kind), errors as `error=true`,
events as logs with an `event` field, links as `follows_from` references. Span statuses other
than errors, status messages and instrumentation scopes have no OpenTracing form and are not
sent. The resource's attributes go in as tracer tags (Jaeger process tags).

The trace ID may be 64-bit (the high 16 hex digits zero; jaeger-client's default) or 128-bit.
Fixed IDs are handed to the tracer by replacing its private `_random_id` (jaeger-client 4.8).
Prints one JSON line {"trace_id": ..., "spans": N}; exits 0 after the reporter has flushed.
"""

import argparse
import json
import os
import time

from jaeger_client import Config
from opentracing import follows_from

HERE = os.path.dirname(os.path.abspath(__file__))


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
        # jaeger-client stringifies anything that is not a bool or a number.
        return tuple(str(v) for v in value)
    raise ValueError(f"unknown attribute type {kind!r}")


def attributes(list_):
    return {a["key"]: typed(a) for a in list_}


def seconds(ns):
    """OpenTracing times are float seconds."""
    return ns / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", required=True, help="host:port of the UDP compact agent port")
    parser.add_argument("--trace-id", required=True, help="32 hex digits")
    parser.add_argument("--base-time-ns", type=int, default=None)
    parser.add_argument("--spec", default=os.path.join(HERE, "logical_trace.json"))
    args = parser.parse_args()

    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    trace_id = int(args.trace_id, 16)
    if len(args.trace_id) != 32 or trace_id == 0:
        raise SystemExit("--trace-id must be 32 hex digits, not all zero")
    wide = trace_id >= 1 << 64
    base_ns = args.base_time_ns
    if base_ns is None:
        base_ns = time.time_ns() // 1_000_000 * 1_000_000
    host, port = args.agent.rsplit(":", 1)

    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": host, "reporting_port": int(port)},
            "logging": False,
            "generate_128bit_trace_id": wide,
            "tags": attributes(spec["resource"]),
            "reporter_flush_interval": 0.05,
        },
        service_name=spec["service"],
        validate=True,
    )
    tracer = config.new_tracer()

    pending = []

    def fixed_id(bits):
        return pending.pop(0)

    tracer._random_id = fixed_id  # pylint: disable=protected-access

    started = {}
    for s in spec["spans"]:
        parent = started.get(s["parent"]) if s["parent"] else None
        if parent is None:
            pending.append(trace_id)
        pending.append(int(s["span_id"], 16))
        tags = attributes(s["attributes"])
        if s["kind"] != "internal":
            tags["span.kind"] = s["kind"]
        if s["status"]["code"] == "error":
            tags["error"] = True
        references = [follows_from(started[link["span_id"]].context) for link in s["links"]]
        span = tracer.start_span(
            s["name"],
            child_of=parent,
            references=references or None,
            tags=tags,
            start_time=seconds(base_ns + s["start_us"] * 1000),
        )
        for event in s["events"]:
            fields = {"event": event["name"]}
            fields.update(attributes(event["attributes"]))
            span.log_kv(fields, timestamp=seconds(base_ns + event["at_us"] * 1000))
        started[s["span_id"]] = span
    if pending:
        raise SystemExit(f"unused fixed IDs {pending}: jaeger-client changed how it draws IDs")
    for s in reversed(spec["spans"]):
        started[s["span_id"]].finish(finish_time=seconds(base_ns + s["end_us"] * 1000))

    # close() flushes the reporter's queue on its IO loop thread; the future resolves when the
    # last batch has been handed to the UDP socket.
    # (Its callbacks would run on this thread's event loop, which is not running: poll.)
    flushed = tracer.close()
    deadline = time.monotonic() + 30
    while not flushed.done():
        if time.monotonic() > deadline:
            raise SystemExit("jaeger-client did not flush within 30 s")
        time.sleep(0.01)
    if flushed.exception() is not None:
        raise SystemExit(f"jaeger-client flush failed: {flushed.exception()!r}")
    print(json.dumps({"trace_id": f"{trace_id:032x}", "spans": len(started)}), flush=True)


if __name__ == "__main__":
    main()
