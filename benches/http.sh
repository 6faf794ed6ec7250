#!/usr/bin/env bash
# The file server example against the article's Node server and nginx (sendfile off and on),
# requests per server CPU-second for a 4 KiB and a 1 MiB file, as BENCHMARKS.md reports it.
#
#   benches/http.sh
#
# Needs Debian's wrk, nodejs and nginx-light (`apt-get install wrk nodejs nginx-light`; the
# script says so and stops if one is missing) and taskset. Settings (environment):
#   ROUNDS=3 SECS=5          alternating rounds and the measured window of each run
#   CONNS=50                 wrk's connections (one thread)
#   SERVER_CPU=0 LOAD_CPU=1  each server on one core (its helper threads too: Turbine's worker
#                            pool, libuv's thread pool), wrk on the other
#   PORT=8091
#
# Each run starts one server pinned to SERVER_CPU (Turbine: 1 reactor; nginx: one process,
# `worker_processes 1`, `master_process off`; Node: one process), warms it up with a 1 s wrk
# run, then runs `wrk -t1 -cCONNS -dSECSs` pinned to LOAD_CPU and reads the server's CPU time
# (every thread, `cpu_ns` of benches/common/lib.sh) before and after. The figure is requests
# per server CPU-second. Rounds rotate the order of the servers; the machine drifts over
# minutes, so ratios are taken within each round and the table shows their median and range.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/lib.sh

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-50}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-8091}

need "apt-get install wrk nodejs nginx-light util-linux python3" wrk node nginx taskset python3
cargo build --release --quiet --example http
OUT=$(mktemp -d)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$OUT"' EXIT

mkdir -p "$OUT/www"
head -c 4096 /dev/urandom >"$OUT/www/4k.bin"
head -c 1048576 /dev/urandom >"$OUT/www/1m.bin"

# nginx.conf SENDFILE: one process serving $OUT/www, access log off, keep-alive unbounded
# (its default closes a connection after 1,000 requests; the others never do).
nginx_conf() {
    cat >"$OUT/nginx-$1.conf" <<CFG
worker_processes 1;
master_process off;
daemon off;
error_log $OUT/nginx-error.log warn;
pid $OUT/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile $1;
    keepalive_requests 1000000;
    client_body_temp_path $OUT/body;
    proxy_temp_path $OUT/proxy;
    fastcgi_temp_path $OUT/fastcgi;
    uwsgi_temp_path $OUT/uwsgi;
    scgi_temp_path $OUT/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $OUT/www;
    }
}
CFG
}
nginx_conf off
nginx_conf on

# start NAME: the server under test on SERVER_CPU; sets SERVER_PID.
start() {
    case $1 in
        turbine) HTTP_ROOT="$OUT/www" TURBINE_ADDR="127.0.0.1:$PORT" TURBINE_REACTORS=1 \
                     RUST_LOG=warn taskset -c "$SERVER_CPU" "${CARGO_TARGET_DIR:-target}"/release/examples/http \
                     >"$OUT/server.log" 2>&1 & ;;
        node) taskset -c "$SERVER_CPU" node benches/http/node_server.js "$PORT" "$OUT/www" \
                  >"$OUT/server.log" 2>&1 & ;;
        nginx-off|nginx-on) taskset -c "$SERVER_CPU" nginx -c "$OUT/$1.conf" -e "$OUT/nginx-error.log" \
                  >"$OUT/server.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    wait_port "$PORT"
}

stop() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# run NAME FILE: one measured wrk run; appends "round,server,file,requests,cpu_s,rps" to results.
run() {
    local name=$1 file=$2 url="http://127.0.0.1:$PORT/$2"
    start "$name"
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null
    local before after
    before=$(cpu_ns "$SERVER_PID")
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" "$url" >"$OUT/wrk.txt"
    after=$(cpu_ns "$SERVER_PID")
    stop
    python3 - "$round" "$name" "$file" "$before" "$after" "$OUT/wrk.txt" \
        >>"$OUT/results.csv" <<'PY'
import re, sys
round_, name, file, before, after, path = sys.argv[1:]
text = open(path).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
if bad or errors:
    print(f"round {round_} {name} {file}: {text}", file=sys.stderr)
cpu = (int(after) - int(before)) / 1e9
print(f"{round_},{name},{file},{requests},{cpu:.2f},{rps:.0f}")
PY
    echo "round $round: $(tail -1 "$OUT/results.csv")" >&2
}

machine_line
echo "# servers on core $SERVER_CPU, wrk -t1 -c$CONNS -d${SECS}s on core $LOAD_CPU; $ROUNDS rounds;" \
    "$(nginx -v 2>&1 | cut -d' ' -f3), node $(node --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
servers=(turbine node nginx-off nginx-on)
for round in $(seq "$ROUNDS"); do
    shift_by=$(( (round - 1) % ${#servers[@]} ))
    order=("${servers[@]:$shift_by}" "${servers[@]:0:$shift_by}")
    for name in "${order[@]}"; do
        run "$name" 4k.bin
        run "$name" 1m.bin
    done
done

python3 - "$OUT/results.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
per = {}  # (file, server) -> {round: (req/cpu-s, req/s, cpu)}
for round_, name, file, requests, cpu, rps in rows:
    per.setdefault((file, name), {})[round_] = (int(requests) / max(float(cpu), 0.01), float(rps), float(cpu))
def fmt(values):
    m = statistics.median(values)
    return f"{m:,.0f} ({min(values):,.0f}-{max(values):,.0f})" if m >= 100 else f"{m:.2f} ({min(values):.2f}-{max(values):.2f})"
print()
print("| file | server | req/s | server CPU-s | req per CPU-second | Turbine / it, per round |")
print("|---|---|---|---|---|---|")
for file in ["4k.bin", "1m.bin"]:
    for name in ["turbine", "node", "nginx-off", "nginx-on"]:
        runs = per.get((file, name), {})
        if not runs:
            continue
        rate = [v[0] for v in runs.values()]
        rps = [v[1] for v in runs.values()]
        cpu = [v[2] for v in runs.values()]
        ours = per[(file, "turbine")]
        ratios = [ours[r][0] / runs[r][0] for r in runs if r in ours]
        ratio = "" if name == "turbine" else fmt(ratios) + "x"
        print(f"| {file} | {name} | {fmt(rps)} | {statistics.median(cpu):.2f} | {fmt(rate)} | {ratio} |")
PY
