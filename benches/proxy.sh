#!/usr/bin/env bash
# The proxy example against HAProxy (mode tcp, one thread), side by side, as BENCHMARKS.md
# reports it.
#
#   benches/proxy.sh
#
# Needs Debian's haproxy (`apt-get install haproxy`) and taskset. Settings (environment):
#   ROUNDS=3 SECS=5      alternating rounds and the measured window of each run
#   RATE=20000           messages per second of the fixed-rate (open-loop) run
#   PROXY_CPU=0 LOAD_CPU=1   the proxy under test on one core; the echo back end and the load
#                            generator share the other
#   PORT=7891 ECHO_PORT=7892
#
# The back end is Turbine's echo (one reactor). Each run starts the proxy under test pinned to
# PROXY_CPU, drives it with turbine-load (100 connections) pinned to LOAD_CPU, reads the
# proxy's CPU time from /proc (`--pid`), and stops it. Scenarios: 64 B messages at depth 1 and
# 16, 16 KiB messages at depth 1 (messages per proxy CPU-second), and 64 B messages at a fixed
# rate (p99 latency from the intended send time). Rounds alternate which proxy goes first; the
# machine drifts over minutes, so the ratio is taken within each round (the two proxies ran
# back to back) and the table shows the median and range of those ratios
# (`benches/proxy_table.py`, which also reads a saved `benches/results/proxy.csv`).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/lib.sh

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
RATE=${RATE:-20000}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-7891}
ECHO_PORT=${ECHO_PORT:-7892}

need "apt-get install haproxy util-linux python3" haproxy taskset python3
cargo build --release --quiet --example proxy --example echo
cargo build --release --quiet -p turbine-load
LOAD=target/release/turbine-load
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$OUT"' EXIT

cat >"$OUT/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen relay
    bind 127.0.0.1:$PORT
    server echo 127.0.0.1:$ECHO_PORT
CFG

TURBINE_ADDR="127.0.0.1:$ECHO_PORT" TURBINE_REACTORS=1 RUST_LOG=warn taskset -c "$LOAD_CPU" \
    target/release/examples/echo >"$OUT/echo.log" 2>&1 &
PIDS+=($!)
wait_port "$ECHO_PORT"

# start NAME: the proxy under test on PROXY_CPU; sets PROXY_PID.
start() {
    case $1 in
        turbine) TURBINE_ADDR="127.0.0.1:$PORT" TURBINE_REACTORS=1 RUST_LOG=warn \
                     PROXY_UPSTREAMS="127.0.0.1:$ECHO_PORT" taskset -c "$PROXY_CPU" \
                     target/release/examples/proxy >"$OUT/proxy.log" 2>&1 &
                 ;;
        haproxy) taskset -c "$PROXY_CPU" haproxy -f "$OUT/haproxy.cfg" -db >"$OUT/proxy.log" 2>&1 &
                 ;;
    esac
    PROXY_PID=$!
    wait_port "$PORT"
}

stop() {
    kill "$PROXY_PID"
    wait "$PROXY_PID" 2>/dev/null || true
}

# run NAME SCENARIO ARGS...: one load run, its report appended to results.
run() {
    local name=$1 scenario=$2
    shift 2
    start "$name"
    echo "round $round: $name $scenario" >&2
    taskset -c "$LOAD_CPU" "$LOAD" --addr "127.0.0.1:$PORT" -c 100 --duration "${SECS}s" \
        --warmup 1s --no-progress --pid "$PROXY_PID" "$@" >"$OUT/run.txt"
    python3 - "$round" "$name" "$scenario" "$OUT/run.txt" >>"$OUT/results.csv" <<'PY'
import re, sys
round_, name, scenario, path = sys.argv[1:]
text = open(path).read()
def unit(v, u):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
cpu = re.search(r"server .* ([\d.]+) msgs per CPU-second", text) or re.search(r"(\d+) msgs per CPU-second", text)
p99 = re.search(r"p99=([\d.]+)(us|ms|s)\b", text)
errors = re.search(r"errors\s+(\d+)", text)
print(f"{round_},{name},{scenario},{cpu.group(1) if cpu else 'nan'},{unit(*p99.groups()) if p99 else 'nan'},{errors.group(1) if errors else 'nan'}")
PY
    stop
}

machine_line
echo "# $(haproxy -v | head -1 | cut -d' ' -f1-3) nbthread 1 mode tcp vs the proxy example (1 reactor), each on core $PROXY_CPU; echo + load on core $LOAD_CPU; $ROUNDS rounds of ${SECS}s"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="turbine haproxy"; else order="haproxy turbine"; fi
    for name in $order; do
        run "$name" "64 B depth 1" --size 64 --depth 1
        run "$name" "64 B depth 16" --size 64 --depth 16
        run "$name" "16 KiB depth 1" --size 16KiB --depth 1
        run "$name" "64 B at $RATE/s" --size 64 --rate "$RATE"
    done
done

mkdir -p benches/results
cp "$OUT/results.csv" benches/results/proxy.csv
python3 benches/proxy_table.py "$OUT/results.csv"
