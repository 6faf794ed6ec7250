#!/usr/bin/env bash
# One echo server of the comparison, loaded and looked into by hand: the figures of
# BENCHMARKS.md that come from single runs with perf rather than from a whole benchmark.
#
#   benches/by_hand.sh load PEER DEPTH       # messages per server CPU-second, closed loop
#   benches/by_hand.sh syscalls PEER DEPTH   # the same load; system calls made in 2 s of it
#   benches/by_hand.sh syscalls PEER churn   # connect, one echo, close (20 at a time)
#   benches/by_hand.sh profile PEER DEPTH    # perf record of 3 s; then `perf report -i FILE`
#
# PEER is one of `compare --serve`'s names (turbine-raw, mio-raw, tokio-raw, ...). The server
# runs pinned to core 0 (`compare --serve PEER --core 0`), `turbine-load` pinned to core 1:
# 100 connections of 64-byte messages (lines for a `-lines` peer, else raw), 1 s warm-up, SECS
# (3) measured. `syscalls` and
# `profile` need `perf` (Debian's linux-perf) and the right to trace (root, or
# kernel.perf_event_paranoid <= 1). Runs of several servers are meant to alternate, e.g.
#
#   for round in 1 2; do for p in turbine-raw mio-raw tokio-raw; do
#       benches/by_hand.sh load $p 16; done; done
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:?usage: benches/by_hand.sh load|syscalls|profile PEER DEPTH|churn}
PEER=${2:?a peer name, such as turbine-raw}
DEPTH=${3:?a depth, or churn}
SECS=${SECS:-3}
OUT=${OUT:-/tmp}
ADDR=${ADDR:-127.0.0.1:0}   # where the server listens; 0.0.0.0:0 for a wildcard listener

cargo build --release --quiet --bench compare -p turbine
cargo build --release --quiet -p turbine-load
target=${CARGO_TARGET_DIR:-target}/release
compare=$(ls -t "$target"/deps/compare-* | grep -v '\.d$' | head -1)

# The server, its stdin held open by this script (it exits when it reaches end of file).
coproc SERVER { exec "$compare" --serve "$PEER" --core 0 --addr "$ADDR"; }
read -r line <&"${SERVER[0]}"
addr=${line#listening on }
addr=${addr/0.0.0.0/127.0.0.1}   # a wildcard listener is reached on loopback
pid=$SERVER_PID

perf_job=
case $MODE in
    syscalls)
        (sleep 1.5; perf stat -e 'syscalls:sys_enter_*' -p "$pid" -o "$OUT/syscalls.$PEER.$DEPTH" \
            -- sleep 2 >/dev/null 2>&1) &
        perf_job=$! ;;
    profile)
        (sleep 1.5; perf record -g -p "$pid" -o "$OUT/perf.$PEER.$DEPTH" -- sleep 3 \
            >/dev/null 2>&1) &
        perf_job=$! ;;
    load) ;;
    *) echo "unknown mode $MODE: load, syscalls or profile" >&2; exit 2 ;;
esac

if [ "$DEPTH" = churn ]; then
    load=(--churn -c 20)
else
    load=(--depth "$DEPTH" -c 100)
fi
case $PEER in *-lines) load+=(--framing lines) ;; esac   # a line echo answers lines only
if [ "$MODE" != load ]; then SECS=$((SECS > 4 ? SECS : 4)); fi   # the counter's window fits
taskset -c 1 "$target"/turbine-load --addr "$addr" "${load[@]}" --duration "${SECS}s" \
    --warmup 1s --pid "$pid" --no-progress 2>&1 | grep -E '^(server|messages|cycles)'
if [ -n "$perf_job" ]; then wait "$perf_job"; fi

case $MODE in
    syscalls)
        echo "system calls in 2 s ($OUT/syscalls.$PEER.$DEPTH):"
        grep syscalls "$OUT/syscalls.$PEER.$DEPTH" | awk '$1 != "0"' | sort -rn ;;
    profile) echo "profile: perf report -i $OUT/perf.$PEER.$DEPTH --no-children --sort dso,sym" ;;
esac
eval "exec ${SERVER[1]}>&-"
wait "$pid" 2>/dev/null || true
