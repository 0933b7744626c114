#!/usr/bin/env bash
# Search and tag latency over a realistic data set, end to end against the release binary on
# free loopback ports: loads spans with the load generator until at least TARGET_SPANS are
# stored, flushes them to blocks, then times each query REPEAT times (min / median / max, ms,
# via curl's time_total) and prints what the server reports it inspected.
#
#   cargo build --release --bin tracecore --bin loadgen
#   benches/scripts/search_report.sh [target_spans=5000000] [repeat=7]
set -euo pipefail
target=${1:-5000000}
repeat=${2:-7}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/release
work=$(mktemp -d /tmp/tracecore-search-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(free_port); grpc=$(free_port); http=$(free_port)
cat > "$work/tempo.yaml" <<YAML
server: {http_listen_address: 127.0.0.1, http_listen_port: $api}
distributor:
  receivers:
    otlp:
      protocols:
        grpc: {endpoint: "127.0.0.1:$grpc"}
        http: {endpoint: "127.0.0.1:$http"}
storage:
  trace:
    local: {path: $work/blocks}
    wal: {path: $work/wal}
overrides:
  defaults:
    ingestion: {rate_limit_bytes: 0, burst_size_bytes: 0, max_traces_per_user: 0}
    global: {max_bytes_per_trace: 0}
YAML
"$bin/tracecore" -config.file="$work/tempo.yaml" > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$api/ready" >/dev/null && break; sleep 0.1; done
received() {
  curl -sf "127.0.0.1:$api/metrics" |
    awk '/^tempo_distributor_spans_received_total/ {s+=$NF} END {printf "%d\n", s}'
}
while [ "$(received)" -lt "$target" ]; do
  "$bin/loadgen" --endpoint "http://127.0.0.1:$grpc" --protocol grpc --rate max --connections 8 \
    --duration 10s --report-interval 1h > /dev/null 2>&1
done
time_query() {
  local label=$1 path=$2
  local times=()
  for _ in $(seq 1 "$repeat"); do
    times+=("$(curl -s -o "$work/body" -w '%{time_total}' "127.0.0.1:$api$path")")
  done
  local stats
  stats=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1*1000} END {printf "%9.1f %9.1f %9.1f", a[1], a[int((NR+1)/2)], a[NR]}')
  local inspected
  inspected=$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); m=b.get("metrics",{}); print("traces=%d spans=%s bytes=%s" % (len(b.get("traces",[])), m.get("inspectedSpans","-"), m.get("inspectedBytes","-")))' "$work/body" 2>/dev/null || echo "?")
  printf '%-62s %s  %s\n' "$label" "$stats" "$inspected"
}
enc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
echo "live data (head blocks in memory, before the flush): $(received) spans"
printf '%-62s %9s %9s %9s  %s\n' query min_ms med_ms max_ms "inspected"
time_query "search limit=20 { resource.service.name = \"frontend\" }" "/api/search?limit=20&q=$(enc '{ resource.service.name = "frontend" }')"
time_query "search limit=20 { resource.service.name = \"no-such-service\" }" "/api/search?limit=20&q=$(enc '{ resource.service.name = "no-such-service" }')"
time_query "tags v2" "/api/v2/search/tags"
echo
curl -sf -X POST "127.0.0.1:$api/flush" >/dev/null
blocks=$(find "$work/blocks" -name meta.json | wc -l)
echo "stored spans: $(received)  blocks: $blocks  bucket: $(du -sh "$work/blocks" | cut -f1)"
echo
printf '%-62s %9s %9s %9s  %s\n' query min_ms med_ms max_ms "inspected"
for q in '{ resource.service.name = "frontend" }' \
         '{ span.http.status_code >= 500 }' \
         '{ duration > 100ms && duration < 200ms }' \
         '{ name =~ ".*cart.*" }' \
         '{ span.http.route = "/api/cart" }' \
         '{ resource.service.name = "no-such-service" }' \
         '{ duration > 1h }' \
         '{ span.http.url =~ ".*no-such-path.*" }' \
         '{ span.db.statement =~ ".*no_such_table.*" }' \
         '{ span.messaging.message.id = "no-such-id" }' \
         '{ status = error } >> { kind = client }' \
         '{ } | count() > 20'; do
  time_query "search limit=20 $q" "/api/search?limit=20&q=$(enc "$q")"
done
time_query "tags v2" "/api/v2/search/tags"
time_query "tag values v2 resource.service.name" "/api/v2/search/tag/resource.service.name/values"
time_query "tag values v2 span.http.route" "/api/v2/search/tag/span.http.route/values"
time_query "tag values v1 service.name" "/api/search/tag/service.name/values"
