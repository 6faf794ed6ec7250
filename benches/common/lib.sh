# Shell helpers shared by the benchmark scripts (sourced: `. benches/common/lib.sh`).

# machine_line: one comment line naming when and on what a run was made.
machine_line() {
    echo "# $(date -u +%FT%TZ) $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
}

# cpu_ns PID: CPU time of every thread of PID so far, in nanoseconds (the scheduler's own
# count, /proc/PID/task/*/schedstat, rather than /proc/PID/stat's clock ticks). A thread that
# ends between the glob and the read is skipped; %.0f, not %d: mawk's %d stops at 2^31 (2.1 s).
cpu_ns() {
    { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } |
        awk '{ sum += $1 } END { printf "%.0f\n", sum }'
}

# wait_port PORT: waits (at most 5 s) until something listens on 127.0.0.1:PORT, else stops.
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.025
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# need HINT TOOL...: stops, naming what to install (HINT), unless every TOOL is on the PATH.
need() {
    local hint=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool is missing ($hint)" >&2; exit 1; }
    done
}
