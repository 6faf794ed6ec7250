#!/usr/bin/env bash
# Runs every fuzz target (the codecs' decoders, the PROXY header parser) for SECONDS seconds
# each (default 30).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler (libfuzzer-sys builds
# libFuzzer). cargo-fuzz passes nightly-only flags (`-Zsanitizer=address` among them); on a
# stable toolchain this script sets RUSTC_BOOTSTRAP=1, which makes stable rustc accept them. With a nightly toolchain installed,
# `FUZZ_TOOLCHAIN=nightly fuzz/run.sh` uses it instead.
#
# Inputs are capped at 4 KiB (-max_len) and each run at 256 MiB of memory (-rss_limit_mb):
# every decoder must stay far below that whatever the bytes. A crash leaves its input under
# fuzz/artifacts/TARGET/; turn it into a regression test in crates/codec/tests/regressions.rs.
# CI does not run this.
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"

toolchain=()
if [[ -n "${FUZZ_TOOLCHAIN:-}" ]]; then
    toolchain=("+${FUZZ_TOOLCHAIN}")
else
    export RUSTC_BOOTSTRAP=1
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi

# AddressSanitizer's quarantine of freed memory (256 MiB by default) would count against the
# RSS limit and pass it on its own; a small one keeps the limit about the decoders.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=16}"

status=0
for target in "${targets[@]}"; do
    echo "=== ${target}: ${seconds}s"
    if ! cargo "${toolchain[@]}" fuzz run "${target}" -- \
        -max_total_time="${seconds}" -max_len=4096 -rss_limit_mb=256 -print_final_stats=1; then
        echo "=== ${target}: FAILED (see fuzz/artifacts/${target}/)"
        status=1
    fi
done
exit "${status}"
