#!/usr/bin/env bash
# bench/throughput.sh — replay throughput of netbased with every service
# recognizer on (--services all) versus none (--services none).
#
# Builds bin/netbased, generates a large synthetic trace under bench/out/
# (gitignored; reused when it already exists), then times
#   bin/netbased replay --services all  --interval 0 TRACE
#   bin/netbased replay --services none --interval 0 TRACE
# with hyperfine when installed, else with repeated /usr/bin/time runs, and
# prints the median wall time, packets/s and the all/none ratio.
#
# Environment:
#   SCALE=8000   generator scale (8000 ≈ 2.3 M packets, ≈ 0.8 GB)
#   SEED=1       generator seed
#   RUNS=5       timed runs per variant (after one warm-up run)
#   TRACE=path   use this pcap instead of generating one
#   NETBASED_ARGS="..."  extra flags for both replays (e.g. --shards 2)
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-8000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
OUT=bench/out
mkdir -p "$OUT"
TRACE=${TRACE:-$OUT/scale${SCALE}-seed${SEED}.pcap}
EXTRA=${NETBASED_ARGS:-}

echo "== build bin/netbased"
CGO_ENABLED=0 go build -o bin/netbased ./cmd/netbased

if [ ! -s "$TRACE" ]; then
  echo "== generate $TRACE (scale $SCALE, seed $SEED)"
  go run ./bench/gen -o "$TRACE" -scale "$SCALE" -seed "$SEED" 2>&1 | tee "$TRACE.stats"
fi

# Packet count: from the generator's summary, else capinfos, else unknown.
packets=""
if [ -s "$TRACE.stats" ]; then
  packets=$(sed -n 's/.*: \([0-9][0-9]*\) packets,.*/\1/p' "$TRACE.stats" | tail -1)
fi
if [ -z "$packets" ] && command -v capinfos >/dev/null 2>&1; then
  packets=$(capinfos -c -M "$TRACE" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
fi
echo "== trace: $TRACE ($(du -h "$TRACE" | cut -f1), ${packets:-unknown} packets)"

cmd_for() { # variant → command line
  echo "bin/netbased replay --services $1 --interval 0 $EXTRA $TRACE"
}

# One untimed run per variant: fails loudly if replay does not work.
for v in all none; do
  if ! $(cmd_for "$v") >/dev/null 2>"$OUT/replay-$v.err"; then
    echo "replay --services $v failed:" >&2
    tail -20 "$OUT/replay-$v.err" >&2
    exit 1
  fi
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A secs rss
if command -v hyperfine >/dev/null 2>&1; then
  echo "== hyperfine ($RUNS runs each)"
  hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$OUT/hyperfine.json" \
    -n all "$(cmd_for all) >/dev/null 2>&1" -n none "$(cmd_for none) >/dev/null 2>&1"
  for v in all none; do
    secs[$v]=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["command"]==sys.argv[2]][0]; print(r["median"])' "$OUT/hyperfine.json" "$v")
    rss[$v]="-"
  done
else
  if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f "%e %M" -o "$OUT/time.out"); else timer=(); fi
  echo "== $RUNS timed runs each (${timer[0]:-bash time}; hyperfine not installed)"
  for v in all none; do
    : >"$OUT/times-$v"
    for i in $(seq "$RUNS"); do
      if [ ${#timer[@]} -gt 0 ]; then
        "${timer[@]}" $(cmd_for "$v") >/dev/null 2>>"$OUT/replay-$v.err"
        cat "$OUT/time.out" >>"$OUT/times-$v"
      else
        start=$(date +%s.%N)
        $(cmd_for "$v") >/dev/null 2>>"$OUT/replay-$v.err"
        echo "$(echo "$(date +%s.%N) - $start" | bc) 0" >>"$OUT/times-$v"
      fi
      echo "   $v run $i: $(tail -1 "$OUT/times-$v" | awk '{printf "%ss, max RSS %d MB", $1, $2/1024}')"
    done
    secs[$v]=$(cut -d' ' -f1 "$OUT/times-$v" | median)
    rss[$v]=$(cut -d' ' -f2 "$OUT/times-$v" | median | awk '{printf "%d MB", $1/1024}')
  done
fi

echo
echo "== results (median of $RUNS)"
printf "%-6s %10s %16s %10s\n" services seconds packets/s "max RSS"
for v in all none; do
  if [ -n "$packets" ]; then
    pps=$(awk -v p="$packets" -v s="${secs[$v]}" 'BEGIN {printf "%.0f", p/s}')
  else
    pps="-"
  fi
  printf "%-6s %10.3f %16s %10s\n" "$v" "${secs[$v]}" "$pps" "${rss[$v]}"
done
awk -v a="${secs[all]}" -v n="${secs[none]}" 'BEGIN {
  printf "ratio: --services all takes %.2f× the time of --services none (throughput %.0f%% of none)\n", a/n, 100*n/a }'
