#!/usr/bin/env bash
# ClickHouse figures: records/s into a local ClickHouse from one sensor
# (the whole clickhouse:// output), the sensor-side cost per record, and the
# merged view's query time over a day of 5-minute windows for HOSTS hosts
# (default 50 000; each record split over two sensors). Needs
# clickhouse-server (apt-get install clickhouse-server clickhouse-client);
# the benchmarks start their own servers under a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS="${HOSTS:-50000}"
echo "== insert: records/s from one sensor, sensor-side cost per record"
go test ./emit -run '^$' -bench 'ClickHouse(Insert|EncodeParse)$' -benchtime "${INSERT_RECORDS:-500000}x" -benchmem
echo "== merged view: a day of 5-minute windows, $HOSTS hosts, two sensors"
NETBASED_CH_BENCH_HOSTS="$HOSTS" go test ./emit -run '^$' -bench 'ClickHouseMergedView' -benchtime 1x -timeout 3h -v |
  grep -E '^(Benchmark|ok|FAIL)|filled'
