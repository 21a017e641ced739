#!/bin/bash
# Runs inside the guest booted with systemd as PID 1 (see e2e-systemd.sh).
# Arguments: test files (default: all of dist/test/e2e-systemd).
set -u
echo "guest: PID 1 is $(cat /proc/1/comm), $(systemctl --version | head -n1), $(zfs version | head -n1), node $(node --version)"
files=("$@"); [ ${#files[@]} -gt 0 ] || files=(dist/test/e2e-systemd/)
start=$(date +%s)
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
rc=$?
echo "guest: systemd e2e took $(( $(date +%s) - start ))s, exit $rc"
exit $rc
