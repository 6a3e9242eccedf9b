#!/usr/bin/env bash
# Instructions per sample of rule evaluation, for a sensor with 1 and with 8
# rules, counted by callgrind: (Ir with N samples - Ir with none) / N.
set -euo pipefail
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/build}
N=${BENCH_RULES_SAMPLES:-100000}
command -v valgrind >/dev/null || { echo "bench-rules: valgrind is not installed" >&2; exit 1; }
[ -x "$B/bench/bench_rules" ] || { echo "bench-rules: $B/bench/bench_rules missing: run make first" >&2; exit 1; }
DIR=$(mktemp -d -t bench-rules.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" "$B/bench/bench_rules" "$1" "$2" >/dev/null 2>"$DIR/vg.log"
  awk '/^summary:/{print $2}' "$DIR/cg.out"
}
echo "== bench-rules ($(date -u +%FT%TZ), $(uname -m), valgrind $(valgrind --version | sed 's/valgrind-//'))"
printf '  %-42s %12s\n' "sensor" "instr/sample"
for kind in one eight; do
  base=$(ir "$kind" 0); full=$(ir "$kind" "$N")
  label=$([ "$kind" = one ] && echo "1 rule (one level limit)" || echo "8 rules (4 levels, rate, fault, delays)")
  per=$(awk -v f="$full" -v b="$base" -v n="$N" 'BEGIN{print (f-b)/n}')
  printf '  %-42s %12.1f\n' "$label" "$per"
  [ -z "${BENCH_TABLE:-}" ] || printf 'rules, instructions/sample, %s|%.0f|-|-|-\n' "$([ "$kind" = one ] && echo "1 rule" || echo "8 rules")" "$per" >> "$BENCH_TABLE"
done
