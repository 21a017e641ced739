#!/bin/bash
# Runs inside the guest (see zfsvm.sh): the end-to-end suite against real OpenZFS.
# Arguments: test files (default: all of dist/test/e2e).
set -u
echo "guest: $(uname -r), $(zfs version | head -n1), $(restic version | cut -d' ' -f1-2), node $(node --version)"
files=("$@"); [ ${#files[@]} -gt 0 ] || files=(dist/test/e2e/)
start=$(date +%s)
# The e2e tests run the real program, so on the guest's real places on
# purpose (crash recovery reads the journal where a run wrote it); the guard
# fails the suite if they leave anything there but the status file, the
# record marker and the host's proof key, which a run keeps by design.
STATE_GUARD_ALLOW="status.json record-complete proof.key" bash test/state-guard.sh node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
rc=$?
echo "guest: e2e suite took $(( $(date +%s) - start ))s, exit $rc"
exit $rc
