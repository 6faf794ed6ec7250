#!/usr/bin/env bash
# Scaling across cores (issue 16, part 6): raw echo with 1, 2, 4 and 8 serving threads, Turbine's
# reactors against tokio's multi-threaded runtime, on a 16-core machine: each server confined
# to cores 0 to N-1, the load generator on cores 8 to 15. Writes benches/results/scaling.md.
#
#   bash benches/scaling.sh build   # here: the release benchmark binary into bench-bin/
#   bash benches/scaling.sh run     # there (no network, no cargo needed): about 3 minutes
#
# The run copies its report into $OUT when that is set (the device machine's output folder).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-run}" in
build)
    binary=$(cargo bench --bench compare --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "compare" and m.get("executable"):
        print(m["executable"])')
    mkdir -p bench-bin
    cp "$binary" bench-bin/compare
    strip bench-bin/compare 2>/dev/null || true
    ls -l bench-bin/compare
    ;;
run)
    cores=$(grep -c ^processor /proc/cpuinfo)
    if [ "$cores" -lt 16 ]; then
        echo "scaling: this machine has $cores cores; the run needs 16 (8 for the servers, 8 for the load)" >&2
        exit 2
    fi
    ulimit -n 20000 2>/dev/null || true
    COMPARE_ROUNDS="${COMPARE_ROUNDS:-3}" COMPARE_SECS="${COMPARE_SECS:-5}" \
        taskset -c 8-15 bench-bin/compare --scaling
    if [ -n "${OUT:-}" ]; then
        cp benches/results/scaling.md "$OUT/"
    fi
    ;;
*)
    echo "usage: bash benches/scaling.sh build|run" >&2
    exit 2
    ;;
esac
