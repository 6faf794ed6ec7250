#!/usr/bin/env bash
# Soak: connection churn against the release `echo` example for MINUTES (default 10).
#
#   bash benches/soak.sh [MINUTES]
#
# Builds the release `echo` example and `turbine-load`, starts the server (two reactors, raw
# echo, a free port on 127.0.0.1), then runs short `turbine-load` runs back to back until the
# time is up, cycling through shapes (few or many connections, shallow or deep pipelines, small
# or large messages) and a `--hold` of 1,000 idle connections, so that connections keep opening
# and closing. Every SAMPLE_SECONDS (default 5) it records the server's open descriptors
# (`/proc/PID/fd`) and resident memory (`VmRSS`). At the end it prints the start, end and
# maximum of both, the drift, and the errors summed over every run, then stops the server with
# SIGTERM. Exit status 1 if any run reported an error, a mismatch or a failed connect, or the
# server died or did not exit 0.
set -euo pipefail

minutes=${1:-10}
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes < 1)); then
    echo "usage: $0 [MINUTES]   (a whole number of minutes, at least 1; default 10)" >&2
    exit 2
fi
sample_seconds=${SAMPLE_SECONDS:-5}

cd "$(dirname "$0")/.."
cargo build --release --example echo
cargo build --release -p turbine-load
target=${CARGO_TARGET_DIR:-target}
echo_bin=$target/release/examples/echo
load_bin=$target/release/turbine-load

work=$(mktemp -d)
server=
sampler=
cleanup() {
    # Only the processes this script started, by their PIDs.
    if [[ -n $sampler ]]; then kill "$sampler" 2>/dev/null || true; fi
    if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

TURBINE_ADDR=127.0.0.1:0 TURBINE_REACTORS=2 ECHO_FRAMING=raw RUST_LOG=info \
    "$echo_bin" 2>"$work/server.log" &
server=$!
addr=
for _ in $(seq 100); do
    addr=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
    [[ -n $addr ]] && break
    sleep 0.1
done
if [[ -z $addr ]]; then
    echo "the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

# One line per sample: seconds since start, open descriptors, VmRSS in KiB.
sample() {
    local fds rss
    fds=$(ls "/proc/$server/fd" | wc -l)
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server/status")
    echo "$SECONDS $fds $rss"
}
start_sample=$(sample)
echo "$start_sample" >"$work/samples"
(
    while kill -0 "$server" 2>/dev/null; do
        sleep "$sample_seconds"
        sample >>"$work/samples" 2>/dev/null || break
    done
) &
sampler=$!

echo "soak: $minutes min against $echo_bin (pid $server) on $addr"
echo "start: $(awk '{ printf "%d descriptors, VmRSS %.1f MiB", $2, $3 / 1024 }' <<<"$start_sample")"

# turbine-load shapes, cycled: connections, pipeline depth, message size.
shapes=(
    "-c 10 --depth 1 --size 64"
    "-c 200 --depth 4 --size 512"
    "-c 50 --depth 16 --size 4KiB"
    "-c 400 --depth 1 --size 64"
    "-c 20 --depth 4 --size 64KiB"
)
runs=0 holds=0 messages=0 errors=0 mismatches=0 failed=0
deadline=$((SECONDS + minutes * 60))
while ((SECONDS < deadline)); do
    shape=${shapes[runs % ${#shapes[@]}]}
    # shellcheck disable=SC2086 # the shape is a list of options
    report=$("$load_bin" --addr "$addr" $shape -t 2 --duration 3s --warmup 0s \
        --no-progress --pid "$server")
    runs=$((runs + 1))
    line=$(grep '^errors ' <<<"$report")
    read -r e m f < <(sed -n 's/^errors *\([0-9]*\) (mismatches \([0-9]*\), failed connects \([0-9]*\)).*/\1 \2 \3/p' <<<"$line")
    errors=$((errors + e)) mismatches=$((mismatches + m)) failed=$((failed + f))
    messages=$((messages + $(awk '/^messages / { print $2 }' <<<"$report")))
    if ((e + m + f > 0)); then
        echo "run $runs ($shape): $line"
    fi
    if ((runs % ${#shapes[@]} == 0)) && ((SECONDS < deadline)); then
        report=$("$load_bin" --addr "$addr" --hold 1000 --pid "$server")
        holds=$((holds + 1))
        read -r f < <(sed -n 's/^held .*(failed connects \([0-9]*\)).*/\1/p' <<<"$report")
        read -r m e < <(sed -n 's/^echo .*(mismatches \([0-9]*\), errors \([0-9]*\)).*/\1 \2/p' <<<"$report")
        errors=$((errors + e)) mismatches=$((mismatches + m)) failed=$((failed + f))
        if ((e + m + f > 0)); then
            echo "hold $holds: $report"
        fi
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "the server died after run $runs:" >&2
        tail -n 20 "$work/server.log" >&2
        exit 1
    fi
done

# Let the last connections close, then take the end sample.
sleep 2
end_sample=$(sample)
echo "$end_sample" >>"$work/samples"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=

summary() {
    # $1: column (2 descriptors, 3 VmRSS KiB); prints start end max.
    awk -v c="$1" 'NR == 1 { s = $c } { e = $c; if ($c > m) m = $c } END { print s, e, m }' \
        "$work/samples"
}
read -r fd_start fd_end fd_max < <(summary 2)
read -r rss_start rss_end rss_max < <(summary 3)
samples=$(wc -l <"$work/samples")

kill -TERM "$server"
status=0
wait "$server" || status=$?
server=

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
echo
echo "soak finished: $minutes min, $runs load runs and $holds holds of 1000, $messages messages checked"
echo "samples      $samples, every ${sample_seconds}s"
echo "descriptors  start $fd_start, end $fd_end, max $fd_max (drift $((fd_end - fd_start)))"
echo "VmRSS        start $(mib "$rss_start"), end $(mib "$rss_end"), max $(mib "$rss_max") (drift $(mib $((rss_end - rss_start))))"
echo "errors       $errors (mismatches $mismatches, failed connects $failed)"
echo "server       exit status $status"
grep -E 'panicked|accept failed' "$work/server.log" | head -n 5 || true

if ((errors + mismatches + failed > 0 || status != 0)); then
    exit 1
fi
