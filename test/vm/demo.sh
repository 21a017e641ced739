#!/usr/bin/env bash
# `npm run demo`: see kopiatomic work on real OpenZFS without having ZFS. Builds
# the guest if needed (a few minutes the first time), then runs guest-demo.sh in it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
ZFSVM_FLAVOUR=${ZFSVM_FLAVOUR:-stable} ZFSVM_SHARE=$root exec bash "$here/zfsvm.sh" "$here/guest-demo.sh"
