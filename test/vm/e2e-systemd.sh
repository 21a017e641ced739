#!/usr/bin/env bash
# The systemd pass: boots the same guest with systemd as PID 1 (ZFSVM_INIT=systemd)
# and runs the tests of test/e2e-systemd there (units, timers, systemctl stop,
# the journal). ZFSVM_FLAVOURS picks flavours (default "stable backports");
# arguments pick test files (dist/test/e2e-systemd/NAME.test.js).
# The package test (package.test.ts) installs the .deb of this tree, built here
# on the host: in the emulated guest its compression alone takes minutes.
# One directory per flavour list: test/run-all.sh runs the flavours side by side.
root=$(cd "$(dirname "$0")/../.." && pwd)
flavours=${ZFSVM_FLAVOURS:-stable backports}
export KOPIATOMIC_E2E_DEB_DIR=dist/e2e-pkg-${flavours// /-}
export ZFSVM_PASS_ENV="${ZFSVM_PASS_ENV:-} KOPIATOMIC_E2E_DEB_DIR"
rm -rf "${root:?}/$KOPIATOMIC_E2E_DEB_DIR"
node "$root/scripts/package.js" --deb "$root/$KOPIATOMIC_E2E_DEB_DIR" >/dev/null \
  || echo "[e2e-systemd] building the .deb failed (above): the package test will fail"
ZFSVM_INIT=systemd E2E_GUEST=guest-e2e-systemd.sh E2E_TAG=e2e-systemd exec bash "$(dirname "$0")/e2e.sh" "$@"
