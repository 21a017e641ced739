#!/usr/bin/env bash
# The systemd pass: boots the same guest with systemd as PID 1 (ZFSVM_INIT=systemd)
# and runs the tests of test/e2e-systemd there (units, timers, systemctl stop,
# the journal). ZFSVM_FLAVOURS picks flavours (default "stable backports");
# arguments pick test files (dist/test/e2e-systemd/NAME.test.js).
ZFSVM_INIT=systemd E2E_GUEST=guest-e2e-systemd.sh E2E_TAG=e2e-systemd exec bash "$(dirname "$0")/e2e.sh" "$@"
