#!/usr/bin/env bash
# bench/pgo.sh — regenerates cmd/netbased/default.pgo, the CPU profile that
# `go build ./cmd/netbased` uses for profile-guided optimization (Go picks
# up default.pgo in the main package's directory by itself: -pgo=auto).
#
# The profile is netbased's own replay of the two sensor workloads of
# bench/sensor.sh (generated with the project's generator if missing),
# built without PGO, one worker, records to /dev/null, merged into one
# profile. Regenerate it after a change that moves the hot path; a stale
# profile only loses some of the gain, it never changes behaviour.
#
# Environment: WORKLOADS="hour churn". Needs Go.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKLOADS=${WORKLOADS:-"hour churn"}
OUT=bench/out
mkdir -p "$OUT"

CGO_ENABLED=0 go build -pgo=off -o "$OUT/netbased-nopgo" ./cmd/netbased
profiles=()
for w in $WORKLOADS; do
  if [ ! -s "$OUT/$w.pcap" ]; then
    echo "== generate $OUT/$w.pcap"
    go run ./bench/gen -profile "$w" -o "$OUT/$w.pcap"
  fi
  echo "== profile $w"
  "$OUT/netbased-nopgo" replay --out /dev/null --workers 1 --cpuprofile "$OUT/$w.cpu.pprof" "$OUT/$w.pcap" >/dev/null
  profiles+=("$OUT/$w.cpu.pprof")
done
go tool pprof -proto "${profiles[@]}" >cmd/netbased/default.pgo
echo "== wrote cmd/netbased/default.pgo ($(wc -c <cmd/netbased/default.pgo) bytes)"
