#!/usr/bin/env bash
# Scrape benchmark: Debian's prometheus-sql-exporter (justwatchcom) and our release build serve
# the cached results of bench.yml's 100 queries on loopback, and scrape_bench measures scrape
# latency with 50 concurrent clients against each, one after the other in the same run.
#
#   exporters/sql/bench/run.sh [SECONDS]
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and prometheus-sql-exporter.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
seconds=${1:-10}
cd "$root"
cargo build --release -q -p sql-exporter --bin sql-exporter --example scrape_bench

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null || true; }
trap cleanup EXIT
prometheus-sql-exporter -web.listen-address 127.0.0.1:19301 -config.file "$here/bench.yml" \
  >/dev/null 2>&1 & pids+=($!)
target/release/sql-exporter -web.listen-address 127.0.0.1:19302 -config.file "$here/bench.yml" \
  >/dev/null 2>&1 & pids+=($!)

# Both must have run all 100 queries (300 series) before the measurement.
for port in 19301 19302; do
  for _ in $(seq 100); do
    count=$(curl -fs "http://127.0.0.1:$port/metrics" | grep -c '^sql_bench_' || true)
    [ "$count" = 300 ] && break
    sleep 0.2
  done
  [ "$count" = 300 ] || { echo "run.sh: exporter on port $port has $count of 300 series"; exit 1; }
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
for period in "" 1000 100; do
  if [ -n "$period" ]; then
    echo "--- 50 clients, each starting one request per ${period}ms"
  else
    echo "--- 50 clients, each sending its next request when the last one is done"
  fi
  for port in 19301 19302; do
    target/release/examples/scrape_bench "http://127.0.0.1:$port/metrics" 50 "$seconds" $period
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
