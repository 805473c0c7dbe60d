#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 300) each, one after the other, and print a
# summary line per target. Needs cargo-fuzz and a nightly toolchain (or RUSTC_BOOTSTRAP=1).
set -u
cd "$(dirname "$0")"
secs=${1:-300}
tc=+nightly
rustup toolchain list | grep -q nightly || { tc=""; export RUSTC_BOOTSTRAP=1; }
cargo $tc fuzz build -O >/dev/null 2>&1 || { echo "cargo fuzz build failed"; exit 2; }
for t in ${TARGETS:-pickle zip npy gguf safetensors protobuf template any oms_bundle checkpoint tensors x509 pii_text pii_records detokenize age_decrypt parquet guard_chain audit_verify drift_tables rule_conditions redteam_inputs robust_inputs}; do
  mkdir -p corpus/$t
  log=$(mktemp)
  # pii_records spawns the CSV reader thread on every input; LeakSanitizer reports that
  # thread's not-yet-freed state as a leak (not reproducible on the saved input), so leak
  # checking is off for it only.
  extra=""
  [ "$t" = pii_records ] && extra="-detect_leaks=0"
  cargo $tc fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 -print_final_stats=1 $extra >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
  echo "$t: exit $rc, ${execs:-?} executions, $cov, crashes: $(ls artifacts/$t 2>/dev/null | wc -l)"
  rm -f "$log"
done
