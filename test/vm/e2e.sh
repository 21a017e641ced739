#!/usr/bin/env bash
# Builds the guest for each OpenZFS flavour (if its recipe changed) and runs the
# end-to-end suite in it. ZFSVM_FLAVOURS picks flavours (default: "stable
# backports" = OpenZFS 2.1.11 and 2.3.x); arguments pick test files
# (dist/test/e2e/NAME.test.js). Exits non-zero if any flavour fails.
# E2E_GUEST (default guest-e2e.sh) is the script run inside; e2e-systemd.sh
# sets it, with ZFSVM_INIT=systemd, for the systemd pass.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
guest=${E2E_GUEST:-guest-e2e.sh}
tag=${E2E_TAG:-e2e}
status=0
for flavour in ${ZFSVM_FLAVOURS:-stable backports}; do
  t0=$SECONDS
  if ! ZFSVM_FLAVOUR=$flavour bash "$here/zfsvm.sh" build; then
    echo "[$tag] building the $flavour guest failed"; status=1; continue
  fi
  echo "[$tag] step guest-build ($flavour) took $((SECONDS - t0))s"
  t1=$SECONDS
  ZFSVM_FLAVOUR=$flavour ZFSVM_SHARE=$root bash "$here/zfsvm.sh" run "$here/$guest" "$@"
  rc=$?
  echo "[$tag] step guest-run ($flavour) took $((SECONDS - t1))s, exit $rc"
  [ $rc = 0 ] || status=1
done
exit $status
