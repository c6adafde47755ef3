#!/usr/bin/env bash
# bench/sensor.sh — netbased's sensor throughput against a yardstick.
#
# Builds bin/netbased and bin/naive (bench/naive: gopacket decoding and a
# 5-tuple packet count, nothing else), generates the two workloads with the
# project's generator (once; bench/out/ is gitignored):
#   hour   a realistic hour: ~7.3 M packets, ~330 k connections (gen -profile hour)
#   churn  connection churn: ~2 M packets, 600 k connections of at most 8
#          packets (gen -profile churn)
# then runs, RUNS times in turn (so that a noisy machine affects each alike),
#   naive TRACE
#   netbased replay --out /dev/null --workers 1 TRACE
#   netbased replay --out /dev/null --workers 2 TRACE
# and, when taskset (util-linux) is there, the naive loop and the 1-worker
# replay again, both pinned to the first CPU: a whole process on one core,
# its other goroutines (records, read-ahead) included;
# and prints, per workload and command, the median wall time with its
# min–max, packets/s, connections/s, CPU time (user + system, all
# threads: the records are written, and a large file read ahead, on other
# goroutines than the worker's), peak memory (max RSS), and netbased's
# time as a multiple of the naive loop's (the median of the per-round
# ratios, with their min–max), and the 2-worker speed-up.
#
# Environment: RUNS=5, WORKLOADS="hour churn", NETBASED_ARGS="..." (extra
# replay flags). Needs Go, /usr/bin/time (apt package time) and awk.
# The pinned rows' ratio is of the pinned naive loop.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
WORKLOADS=${WORKLOADS:-"hour churn"}
EXTRA=${NETBASED_ARGS:-}
OUT=bench/out
mkdir -p "$OUT"
if [ ! -x /usr/bin/time ]; then
  echo "bench/sensor.sh needs /usr/bin/time (apt-get install time)" >&2
  exit 1
fi

echo "== build"
CGO_ENABLED=0 go build -o bin/netbased ./cmd/netbased
CGO_ENABLED=0 go build -o bin/naive ./bench/naive

for w in $WORKLOADS; do
  if [ ! -s "$OUT/$w.pcap" ]; then
    echo "== generate $OUT/$w.pcap"
    go run ./bench/gen -profile "$w" -o "$OUT/$w.pcap"
  fi
done

# run NAME CMD...: one timed run; appends "wall rss_kb user sys" to $OUT/NAME.times
# and keeps the command's stderr (netbased's summary) in $OUT/NAME.err.
run() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M %U %S" -o "$OUT/time.out" "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.err"
  cat "$OUT/time.out" >>"$OUT/$name.times"
}

# stats FILE COLUMN: "median min max" of a column.
stats() {
  awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2
    printf "%s %s %s\n", m, a[1], a[NR] }'
}

printf "\n| workload | command | wall s (median, min–max) | CPU s (median) | packets/s | connections/s | peak RSS MiB | time / naive (median, min–max) |\n"
printf "|---|---|---|---|---|---|---|---|\n"
CMDS="naive nb1 nb2"
PIN=""
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
  PIN="taskset -c 0"
  CMDS="$CMDS naive1c nb1c"
fi
for w in $WORKLOADS; do
  trace=$OUT/$w.pcap
  for n in $CMDS; do : >"$OUT/$w-$n.times"; done
  bin/naive "$trace" >/dev/null # warm the page cache
  for _ in $(seq "$RUNS"); do
    run "$w-naive" bin/naive "$trace"
    # shellcheck disable=SC2086
    run "$w-nb1" bin/netbased replay --out /dev/null --workers 1 $EXTRA "$trace"
    # shellcheck disable=SC2086
    run "$w-nb2" bin/netbased replay --out /dev/null --workers 2 $EXTRA "$trace"
    if [ -n "$PIN" ]; then
      # shellcheck disable=SC2086
      run "$w-naive1c" $PIN bin/naive "$trace"
      # shellcheck disable=SC2086
      run "$w-nb1c" $PIN bin/netbased replay --out /dev/null --workers 1 $EXTRA "$trace"
    fi
  done
  packets=$(awk '{print $1}' "$OUT/$w-naive.stdout")
  conns=$(sed -n 's/.* packets, \([0-9]*\) connections.*/\1/p' "$OUT/$w-nb1.err")
  for n in $CMDS; do
    read -r med lo hi < <(stats "$OUT/$w-$n.times" 1)
    read -r rss _ _ < <(stats "$OUT/$w-$n.times" 2)
    awk '{print $3 + $4}' "$OUT/$w-$n.times" >"$OUT/$w-$n.cpu"
    read -r cpu _ _ < <(stats "$OUT/$w-$n.cpu" 1)
    case $n in
      naive) label="naive gopacket loop" ;;
      nb1) label="netbased replay, 1 worker" ;;
      nb2) label="netbased replay, 2 workers" ;;
      naive1c) label="naive gopacket loop, one core" ;;
      nb1c) label="netbased replay, 1 worker, one core" ;;
    esac
    yard=naive
    [ "$n" = nb1c ] && yard=naive1c
    if [ "$n" != naive ] && [ "$n" != naive1c ]; then
      paste "$OUT/$w-$n.times" "$OUT/$w-$yard.times" | awk '{print $1/$5}' >"$OUT/$w-$n.ratio"
      read -r rm rl rh < <(stats "$OUT/$w-$n.ratio" 1)
      ratio=$(printf "%.2f× (%.2f–%.2f)" "$rm" "$rl" "$rh")
    else
      ratio="1"
    fi
    cps="-"
    [ "${n#naive}" = "$n" ] && [ -n "$conns" ] && cps=$(awk -v c="$conns" -v s="$med" 'BEGIN {printf "%.0f", c/s}')
    printf "| %s | %s | %.2f (%.2f–%.2f) | %.2f | %.0f | %s | %.0f | %s |\n" "$w" "$label" "$med" "$lo" "$hi" "$cpu" \
      "$(awk -v p="$packets" -v s="$med" 'BEGIN {print p/s}')" "$cps" "$(awk -v r="$rss" 'BEGIN {print r/1024}')" "$ratio"
  done
  paste "$OUT/$w-nb1.times" "$OUT/$w-nb2.times" | awk '{print $1/$5}' >"$OUT/$w-speedup"
  read -r sm sl sh < <(stats "$OUT/$w-speedup" 1)
  printf "| %s | 2 workers' speed-up over 1 | %.2f× (%.2f–%.2f) | | | | | |\n" "$w" "$sm" "$sl" "$sh"
done
echo
echo "$RUNS rounds; $(nproc) CPUs; $(go version | awk '{print $3}')"
