#!/usr/bin/env bash
# The cost of --verify in the guest (see bench/verify-cost.ts). Build first (npx tsc -p .).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
if [ "${ZFSVM:-}" = 1 ]; then exec node dist/bench/verify-cost.js; fi
for flavour in ${ZFSVM_FLAVOURS:-stable}; do
  ZFSVM_FLAVOUR=$flavour ZFSVM_SHARE=$root bash test/vm/zfsvm.sh run "$here/verify-cost.sh"
done
