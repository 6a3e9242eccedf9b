#!/usr/bin/env bash
# bench/gpio/run.sh (make bench-gpio): figures, never pass/fail. GPIO edge ->
# broker latency on the kernel's gpio-sim chip in the VM of tests/vm (qemu,
# TCG: an emulated CPU many times slower than a real one, so these are upper
# bounds of what the code path costs, not a board's figures).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIFELINE_BUILD:-$ROOT/build}
VM=${VMDIR:-$ROOT/build/vm}
"$ROOT/tests/vm/build.sh" "$VM"
rc=$?
[ $rc -eq 77 ] && { echo "bench-gpio: the VM cannot be built here (reason above): no figure"; exit 0; }
[ $rc -eq 0 ] || exit $rc
echo "== bench-gpio: $(date -u +%FT%TZ), qemu TCG, kernel $(ls "$VM" | sed -n 's/^built-\(.*\)-[0-9]*$/\1/p' | head -n 1), lifelined $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
LIFELINE_BUILD=$BUILD VM_EXTRA_BINS="/usr/sbin/mosquitto /usr/bin/mosquitto_sub" \
  "$ROOT/tests/vm/run.sh" "$VM" edge_latency.sh "$ROOT/bench/gpio/edge_latency.sh" ||
  { echo "bench-gpio: the VM run failed:"; tail -n 20 "$VM/vm.log"; exit 1; }
line=$(grep -a '^EDGE-LATENCY ' "$VM/vm.log" | tail -n 1)
echo "  $line"
if [ -n "${BENCH_TABLE:-}" ]; then
  p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<< "$line"); p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<< "$line")
  echo "GPIO edge -> broker ms p50 / p99 (qemu TCG)|$p50 / $p99|-|-|-" >> "$BENCH_TABLE"
fi
