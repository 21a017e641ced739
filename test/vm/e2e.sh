#!/usr/bin/env bash
# Builds the guest for each OpenZFS flavour (if its recipe changed) and runs the
# end-to-end suite in it. ZFSVM_FLAVOURS picks flavours (default: "stable
# backports" = OpenZFS 2.1.11 and 2.3.x); arguments pick test files
# (dist/test/e2e/NAME.test.js). Exits non-zero if any flavour fails.
# E2E_GUEST (default guest-e2e.sh) is the script run inside; e2e-systemd.sh
# sets it, with ZFSVM_INIT=systemd, for the systemd pass.
# A guest that does not finish (timed out, 124, or broke, 125) never prints
# the test runner's summary: the tests it did finish are counted from their
# lines and printed as one ("ℹ pass N", "ℹ fail N", the unfinished run being
# one more failure), so that test/run-all.sh counts them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
guest=${E2E_GUEST:-guest-e2e.sh}
tag=${E2E_TAG:-e2e}
status=0
out=$(mktemp); trap 'rm -f "$out"' EXIT

# unfinished LOG: the summary of a guest run that ended before its own.
unfinished() {
  if grep -q '^ℹ pass ' "$1"; then
    echo "ℹ fail 1"; return  # the runner had finished; the guest did not
  fi
  local p f s
  p=$(grep '^ *✔ ' "$1" | grep -vc '# TODO$'); f=$(grep -c '^ *✖ ' "$1"); s=$(grep -c '^ *﹣ ' "$1")
  echo "[$tag] the guest did not finish: $p tests had passed, $f failed, $s skipped; counted with one failure more"
  printf 'ℹ pass %s\nℹ fail %s\nℹ skipped %s\n' "$p" $((f + 1)) "$s"
}

for flavour in ${ZFSVM_FLAVOURS:-stable backports}; do
  t0=$SECONDS
  if ! ZFSVM_FLAVOUR=$flavour bash "$here/zfsvm.sh" build; then
    echo "[$tag] building the $flavour guest failed"; status=1; continue
  fi
  echo "[$tag] step guest-build ($flavour) took $((SECONDS - t0))s"
  t1=$SECONDS
  ZFSVM_FLAVOUR=$flavour ZFSVM_SHARE=$root bash "$here/zfsvm.sh" run "$here/$guest" "$@" | tee "$out"
  rc=${PIPESTATUS[0]}
  case $rc in 124|125) unfinished "$out" ;; esac
  echo "[$tag] step guest-run ($flavour) took $((SECONDS - t1))s, exit $rc"
  [ $rc = 0 ] || status=1
done
exit $status
