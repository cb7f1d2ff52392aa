#!/usr/bin/env bash
# Runs each fuzz target for the given seconds (default 600) from the checked-in seeds, one
# after another, and prints libFuzzer's final figures (full logs in fuzz/logs/). Needs nightly
# and cargo-fuzz: rustup toolchain install nightly && cargo install cargo-fuzz
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("${@:-webhook command overrides}")
for target in ${targets[@]}; do
  mkdir -p "corpus/$target" logs
  dict=()
  [ "$target" != command ] && dict=(-dict=json.dict)
  echo "== $target (${secs}s)"
  cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 "${dict[@]}" > "logs/$target.log" 2>&1
  echo "exit $?"
  grep -E "^stat::|DONE|ERROR|SUMMARY|panicked|artifact" "logs/$target.log" | tail -20
done
