#!/usr/bin/env bash
# End-to-end ingest report for the issue notes: starts a release tracecore on free loopback
# ports with a fresh data directory, drives it with loadgen at maximum rate, flushes, and
# reports server CPU-seconds per million spans (ingest + block building), peak RSS, Parquet
# bytes per span, then ack latency at half the measured maximum rate.
#
#   cargo build --release --bin tracecore --bin loadgen
#   benches/scripts/ingest_report.sh [duration=30s] [connections=8] [protocol=grpc] [udp rate]
#
# protocol: grpc | http (OTLP), jaeger-thrift (POST /api/traces), zipkin (v2 JSON), or
# jaeger-compact (agent UDP: no acknowledgements, so it is sent at a fixed rate, default 20000
# spans/s, and the spans counted are those the server took in, tempo_distributor_spans_received).
# Jaeger and Zipkin requests are one process's batch of ~100 spans, as the clients flush them
# (loadgen --batch-spans, see benches/src/legacy.rs); OTLP requests carry ~200 spans (10 traces).
set -euo pipefail
duration=${1:-30s}
connections=${2:-8}
protocol=${3:-grpc}
udp_rate=${4:-20000}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/release
work=$(mktemp -d /tmp/tracecore-report-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(free_port); grpc=$(free_port); http=$(free_port)
jthrift=$(free_port); jcompact=$(free_udp_port); zipkin=$(free_port)
cat > "$work/tempo.yaml" <<YAML
server: {http_listen_address: 127.0.0.1, http_listen_port: $api}
distributor:
  receivers:
    otlp:
      protocols:
        grpc: {endpoint: "127.0.0.1:$grpc"}
        http: {endpoint: "127.0.0.1:$http"}
    jaeger:
      protocols:
        thrift_http: {endpoint: "127.0.0.1:$jthrift"}
        thrift_compact: {endpoint: "127.0.0.1:$jcompact"}
    zipkin: {endpoint: "127.0.0.1:$zipkin"}
storage:
  trace:
    local: {path: $work/blocks}
    wal: {path: $work/wal}
# Limits stay enforced (their cost is measured) but high enough never to refuse loadgen.
overrides:
  defaults:
    ingestion: {rate_limit_bytes: 100000000000, burst_size_bytes: 100000000000, max_traces_per_user: 100000000}
    global: {max_bytes_per_trace: 100000000}
YAML
"$bin/tracecore" -config.file="$work/tempo.yaml" > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$api/ready" >/dev/null && break; sleep 0.1; done
case "$protocol" in
  grpc) endpoint="http://127.0.0.1:$grpc" ;;
  http) endpoint="http://127.0.0.1:$http" ;;
  jaeger-thrift) endpoint="http://127.0.0.1:$jthrift" ;;
  jaeger-compact) endpoint="127.0.0.1:$jcompact" ;;
  zipkin) endpoint="http://127.0.0.1:$zipkin" ;;
  *) echo "unknown protocol $protocol" >&2; exit 2 ;;
esac
rate_arg=max
[ "$protocol" = jaeger-compact ] && rate_arg=$udp_rate
received() {
  curl -sf "127.0.0.1:$api/metrics" |
    awk '/^tempo_distributor_spans_received_total/ {s+=$NF} END {printf "%d\n", s}'
}
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }

t0=$(cpu)
r0=$(received)
"$bin/loadgen" --endpoint "$endpoint" --protocol "$protocol" --rate "$rate_arg" --connections "$connections" \
  --duration "$duration" --report-interval 1h > "$work/max.out" 2>&1
# UDP: wait for the datagrams still queued in the socket buffer to be taken in.
[ "$protocol" = jaeger-compact ] && sleep 2
curl -sf -X POST "127.0.0.1:$api/flush" >/dev/null
t1=$(cpu)
max=$(tail -1 "$work/max.out")
spans=$(echo "$max" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spans"])')
if [ "$protocol" = jaeger-compact ]; then
  sent=$spans
  spans=$(( $(received) - r0 ))
  echo "udp: $sent spans sent, $spans taken in by the server"
fi
rate=$(echo "$max" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["spans_per_s"]))')
parquet=$(find "$work/blocks" -name data.parquet -printf '%s\n' | awk '{s+=$1} END {print s+0}')
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "max rate: $max"
python3 - "$t0" "$t1" "$hz" "$spans" "$parquet" "$rss" <<'PY'
import sys
t0, t1, hz, spans, parquet, rss = map(float, sys.argv[1:])
cpu = (t1 - t0) / hz
print(f"server CPU {cpu:.1f} s for {spans/1e6:.2f} M spans = {cpu/(spans/1e6):.2f} CPU-s per million spans (ingest + blocks)")
print(f"parquet {parquet/1e6:.1f} MB = {parquet/spans:.1f} bytes per span")
print(f"peak RSS {rss/1024:.0f} MiB")
PY
[ "$protocol" = jaeger-compact ] && exit 0
half=$((rate / 2))
"$bin/loadgen" --endpoint "$endpoint" --protocol "$protocol" --rate "$half" --connections "$connections" \
  --duration "$duration" --report-interval 1h > "$work/half.out" 2>&1
echo "half rate ($half spans/s): $(tail -1 "$work/half.out")"
