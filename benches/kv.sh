#!/usr/bin/env bash
# The kv example against Redis with redis-benchmark, as BENCHMARKS.md reports it.
#
#   benches/kv.sh            # kv (1 reactor) vs redis-server, pipelined: the ratio table
#   benches/kv.sh shards     # kv with 64 shards vs one lock, 1 and 2 reactors, random keys
#
# Needs Debian's redis-tools (redis-benchmark) and, for the first mode, redis-server:
# `apt-get install redis-tools redis-server`. Settings (environment):
#   N=1000000        requests per test and run
#   ROUNDS=3         alternating rounds; the tables show the median of the rounds
#   TESTS=ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,
#         zpopmin,lrange_100,lrange_300,lrange_500,lrange_600,mset   (every default test but
#         xadd: kv has no streams)
#   PIPELINE=16 CLIENTS=50
#   SERVER_CPU=0 CLIENT_CPU=1   cores for the server under test and for redis-benchmark
#   PORT=6390                   where the servers listen, one at a time
#
# Each run starts a fresh server, pinned with taskset, waits for it to answer PING, runs
# redis-benchmark pinned to the other core once per test, and stops the server. The rounds
# alternate which server goes first, so a drift in the machine's speed falls on both alike.
#
# Two figures per test: requests per second as redis-benchmark sees them, and the server's
# CPU time for the same requests (summed over its threads from /proc/PID/task/*/schedstat,
# in nanoseconds). redis-benchmark has one core of its own and is often the limit at -P 16,
# so the first figure tends to meet at the client's speed; the second says which server did
# the same work with less CPU. An LRANGE test's CPU includes the LPUSH that fills its list
# (redis-benchmark runs both for it), the same for both servers.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/lib.sh

MODE=${1:-redis}
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_500,lrange_600,mset}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-6390}

need "apt-get install redis-tools util-linux" redis-benchmark redis-cli taskset
if [ "$MODE" = redis ]; then
    need "apt-get install redis-server" redis-server
fi

cargo build --release --example kv --quiet
KV=target/release/examples/kv
OUT=$(mktemp -d)
SERVER_PID=
trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$OUT"' EXIT

# start_server NAME CPUS [VAR=VALUE ...]: starts kv (with the variables) or redis on PORT.
start_server() {
    local name=$1 cpus=$2
    shift 2
    case $name in
        redis) taskset -c "$cpus" redis-server --port "$PORT" --save '' --appendonly no \
                   >"$OUT/server.log" 2>&1 &
               ;;
        *) env "$@" TURBINE_ADDR="127.0.0.1:$PORT" RUST_LOG=warn taskset -c "$cpus" "$KV" \
               >"$OUT/server.log" 2>&1 &
           ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        redis-cli -p "$PORT" PING >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$OUT/server.log" >&2
    exit 1
}

stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# bench NAME CPUS CLIENT_CPUS EXTRA_ARGS [VAR=VALUE ...]: one run, each test on its own,
# appended as "name,test,rps,cpu_ns" lines to $OUT/results.csv: the test's line, with the
# server's CPU time during its invocation (an LRANGE test's filling LPUSH line is left out;
# its CPU time is counted in).
bench() {
    local name=$1 cpus=$2 client_cpus=$3 extra=$4 test before after
    shift 4
    start_server "$name" "$cpus" "$@"
    for test in ${TESTS//,/ }; do
        before=$(cpu_ns "$SERVER_PID")
        # shellcheck disable=SC2086 # $extra holds several arguments
        taskset -c "$client_cpus" redis-benchmark -h 127.0.0.1 -p "$PORT" -P "$PIPELINE" \
            -c "$CLIENTS" -n "$N" -t "$test" $extra --csv 2>/dev/null >"$OUT/run.csv"
        after=$(cpu_ns "$SERVER_PID")
        awk -F, -v name="$name" -v cpu=$((after - before)) '
            NR > 1 && !/needed to benchmark/ { gsub(/"/, "", $1); gsub(/"/, "", $2); print name "," $1 "," $2 "," cpu }' \
            "$OUT/run.csv" >>"$OUT/results.csv"
    done
    stop_server
}

# table A B: per test, the median rps of A and of B over the rounds and their ratio A/B; the
# median server CPU time of each for the test's requests, and B's over A's (above 1: A did
# the same work with less CPU).
table() {
    python3 - "$OUT/results.csv" "$1" "$2" <<'EOF'
import csv, statistics, sys
path, a, b = sys.argv[1:]
rps, cpu = {}, {}
order = []
for name, test, r, c in csv.reader(open(path)):
    if test not in order:
        order.append(test)
    rps.setdefault((name, test), []).append(float(r))
    if c:
        cpu.setdefault((name, test), []).append(int(c) / 1e9)
print(f"| test | {a} req/s | {b} req/s | {a} / {b} | {a} CPU s | {b} CPU s "
      f"| {b} CPU / {a} CPU | {a} runs | {b} runs |")
print("|---|---:|---:|---:|---:|---:|---:|---|---|")
for test in order:
    ra, rb = rps.get((a, test), []), rps.get((b, test), [])
    if not ra or not rb:
        continue
    ma, mb = statistics.median(ra), statistics.median(rb)
    ca, cb = cpu.get((a, test)), cpu.get((b, test))
    cpus = " | | "
    if ca and cb:
        ca, cb = statistics.median(ca), statistics.median(cb)
        cpus = f" {ca:.3f} | {cb:.3f} | {cb / ca:.2f} "
    fmt = lambda rs: " / ".join(f"{r / 1e6:.2f} M" for r in rs)
    print(f"| {test} | {ma:,.0f} | {mb:,.0f} | {ma / mb:.2f} |{cpus}| {fmt(ra)} | {fmt(rb)} |")
EOF
}

machine_line
echo "# redis-benchmark -P $PIPELINE -c $CLIENTS -n $N -t $TESTS; $ROUNDS rounds"
case $MODE in
    redis)
        echo "# kv: TURBINE_REACTORS=1 on core $SERVER_CPU; $(redis-server --version | cut -d' ' -f1-3) --save '' --appendonly no on core $SERVER_CPU; client on core $CLIENT_CPU"
        for round in $(seq "$ROUNDS"); do
            if [ $((round % 2)) = 1 ]; then order="kv redis"; else order="redis kv"; fi
            for server in $order; do
                echo "round $round: $server" >&2
                bench "$server" "$SERVER_CPU" "$CLIENT_CPU" "" TURBINE_REACTORS=1
            done
        done
        table kv redis
        ;;
    shards)
        # Random keys (-r) so that commands spread over the shards; with one lock they all meet.
        echo "# random keys: -r 1000000; 1 reactor: server on core $SERVER_CPU, client on core $CLIENT_CPU; 2 reactors: server and client share cores $SERVER_CPU,$CLIENT_CPU"
        for reactors in 1 2; do
            if [ "$reactors" = 1 ]; then cpus=$SERVER_CPU; client=$CLIENT_CPU; else cpus="$SERVER_CPU,$CLIENT_CPU"; client=$cpus; fi
            for round in $(seq "$ROUNDS"); do
                if [ $((round % 2)) = 1 ]; then order="64 1"; else order="1 64"; fi
                for shards in $order; do
                    echo "round $round: $reactors reactors, $shards shards" >&2
                    bench "r${reactors}-s${shards}" "$cpus" "$client" "-r 1000000" \
                        TURBINE_REACTORS="$reactors" KV_SHARDS="$shards"
                done
            done
            echo
            echo "## $reactors reactor(s): 64 shards vs one lock"
            table "r${reactors}-s64" "r${reactors}-s1"
        done
        ;;
    *)
        echo "unknown mode $MODE: expected nothing (kv vs Redis) or shards" >&2
        exit 2
        ;;
esac
