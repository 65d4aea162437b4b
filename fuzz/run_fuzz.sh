#!/usr/bin/env bash
# run_fuzz.sh BINARY CORPUS_DIR SECONDS: runs a libFuzzer target for a bounded time from the
# checked-in corpus, writing new inputs to a scratch folder. Fails on any crash or leak.
set -euo pipefail
bin=$1 corpus=$2 secs=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$corpus"
# libFuzzer exits 77 on a crash by default, which meson reads as a skip: make it a failure.
"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 \
  -artifact_prefix="$scratch/" "$scratch" "$corpus" 2>&1 | tail -n 30
