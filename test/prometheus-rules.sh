#!/usr/bin/env bash
# The shipped Prometheus rules: `promtool check rules` and `promtool test rules`
# (promtool is in Debian's prometheus package). Prints the node test runner's
# totals lines so that run-all.sh counts it like the other steps.
set -uo pipefail
cd "$(dirname "$0")/../contrib/prometheus"
if ! command -v promtool >/dev/null; then
  echo "promtool not found: apt-get install prometheus"
  echo "ℹ pass 0"; echo "ℹ fail 1"; exit 1
fi
pass=0 fail=0
for check in "check rules kopiatomic-rules.yml" "test rules kopiatomic-rules.test.yml"; do
  # shellcheck disable=SC2086
  if promtool $check; then pass=$((pass + 1)); echo "✔ promtool $check"; else fail=$((fail + 1)); echo "✖ promtool $check"; fi
done
echo "ℹ pass $pass"
echo "ℹ fail $fail"
[ "$fail" = 0 ]
