#!/usr/bin/env bash
# The systemd pass: boots the same guest with systemd as PID 1 (ZFSVM_INIT=systemd)
# and runs the tests of test/e2e-systemd there (units, timers, systemctl stop,
# the journal). ZFSVM_FLAVOURS picks flavours (default "stable backports");
# arguments pick test files (dist/test/e2e-systemd/NAME.test.js).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
status=0
for flavour in ${ZFSVM_FLAVOURS:-stable backports}; do
  t0=$SECONDS
  if ! ZFSVM_FLAVOUR=$flavour bash "$here/zfsvm.sh" build; then
    echo "[e2e-systemd] building the $flavour guest failed"; status=1; continue
  fi
  echo "[e2e-systemd] step guest-build ($flavour) took $((SECONDS - t0))s"
  t1=$SECONDS
  ZFSVM_INIT=systemd ZFSVM_FLAVOUR=$flavour ZFSVM_SHARE=$root bash "$here/zfsvm.sh" run "$here/guest-e2e-systemd.sh" "$@"
  rc=$?
  echo "[e2e-systemd] step guest-run ($flavour) took $((SECONDS - t1))s, exit $rc"
  [ $rc = 0 ] || status=1
done
exit $status
