#!/usr/bin/env bash
# `npm test`: the unit tests on the host (on Node 20, 22 and 24), then the end-to-end suite inside the
# real-OpenZFS guest for OpenZFS 2.1 (stable) and 2.3 (backports). Prints the
# time of each step and ends with one line: "N passed, N failed".
# Arguments (npm test -- FILE...) narrow the end-to-end suite to those files
# (dist/test/e2e/NAME.test.js) and skip the systemd and power-cut passes
# (test/e2e-systemd, test/e2e-powercut);
# ZFSVM_FLAVOURS narrows the OpenZFS versions.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
[ "$(id -u)" = 0 ] || missing+=("root (the guest build uses chroot and mounts)")
for cmd in qemu-system-x86_64 mmdebstrap mkfs.ext4 zstd flock; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "npm test: cannot run the end-to-end suite, which needs a QEMU guest with real OpenZFS."
  printf '  missing: %s\n' "${missing[@]}"
  echo "  install: apt-get install -y --no-install-recommends qemu-system-x86 mmdebstrap e2fsprogs zstd (as root)"
  echo "  to run only the unit tests: npm run test:unit"
  echo "0 passed, 1 failed"
  exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
passed=0 failed=0 skipped=0 counts="" summary=()

# count LOG: add the node test runner's "ℹ pass N" / "ℹ fail N" / "ℹ skipped N"
# to the totals and set $counts; a step that printed no summary (a broken
# build or guest) counts as one failure.
sum() { sed -n "s/^ℹ $1 \([0-9]*\)\$/\1/p" "$2" | awk '{s+=$1} END {print s+0}'; }
count() {
  local p f s
  p=$(sum pass "$1"); f=$(sum fail "$1"); s=$(sum skipped "$1")
  grep -q '^ℹ pass ' "$1" || f=$((f + 1))
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  counts="$p passed, $f failed, $s skipped"
}

step() { # step NAME LOG CMD...
  local name=$1 log=$2 t0=$SECONDS rc; shift 2
  echo "=== $name"
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  count "$log"
  if [ "$rc" != 0 ]; then
    case $counts in *", 0 failed,"*) failed=$((failed + 1));; esac
    counts="$counts (exit $rc)"
  fi
  summary+=("$(printf '%-28s %5ss  %s' "$name" $((SECONDS - t0)) "$counts")")
}

t0=$SECONDS
echo "=== build"
npm run --silent build || { echo "0 passed, 1 failed"; exit 1; }
summary+=("$(printf '%-28s %5ss' build $((SECONDS - t0)))")
# The guests of all flavours build and run side by side (a guest keeps about
# three quarters of a host core busy: one flavour alone leaves a core idle).
# Each flavour's output is kept in its own log and printed whole when it ends.
# After its suite, each flavour boots again with systemd as PID 1 for the
# systemd pass (units, timers, systemctl stop, the journal), then once more
# for the power-cut pass (a reset in the middle of a backup, then a second
# boot); both run with the whole suite, not when files narrow it.
flavours=(${ZFSVM_FLAVOURS:-stable backports})
declare -A pids started
for flavour in "${flavours[@]}"; do
  started[$flavour]=$SECONDS
  {
    ZFSVM_FLAVOURS="$flavour" bash test/vm/e2e.sh "$@"; rc=$?
    if [ $# -eq 0 ]; then
      ZFSVM_FLAVOURS="$flavour" bash test/vm/e2e-systemd.sh || rc=1
      ZFSVM_FLAVOURS="$flavour" bash test/vm/e2e-powercut.sh || rc=1
    fi
    exit $rc
  } >"$logs/e2e-$flavour" 2>&1 &
  pids[$flavour]=$!
done
# The host's own steps run while the guests boot and work: the guests wait
# on emulated I/O much of the time, and the host steps take a few minutes.
# The unit tests never touch the host's real state: state-guard.sh fails the
# step when /var/lib/kopiatomic, /run/kopiatomic, /etc/kopiatomic (or the
# FreeBSD places) changed while they ran.
# The files are named: node --test on Node 22 and later takes no directory.
units=(dist/test/unit/*.test.js)
step "unit tests (host, Node $(node --version | sed 's/^v//; s/\..*//'))" "$logs/unit" bash test/state-guard.sh node --test --test-reporter=spec "${units[@]}"
# The same tests on the other supported Node lines, with official binaries
# pinned in test/node-versions.sh (fetched once from the npm registry).
for major in 22 24; do
  if bin=$(bash test/node-versions.sh "$major"); then
    step "unit tests (host, Node $major)" "$logs/unit$major" bash test/state-guard.sh "$bin" --test --test-reporter=spec "${units[@]}"
  else
    failed=$((failed + 1)); summary+=("$(printf '%-28s %5s  %s' "unit tests (host, Node $major)" - "no Node $major binary (see above)")")
  fi
done
step "prometheus rules (host)" "$logs/rules" bash test/prometheus-rules.sh

for flavour in "${flavours[@]}"; do
  wait "${pids[$flavour]}"; rc=$?
  case $flavour in stable) label="e2e OpenZFS 2.1 (stable)";; backports) label="e2e OpenZFS 2.3 (backports)";; *) label="e2e $flavour";; esac
  echo "=== $label"
  cat "$logs/e2e-$flavour"
  count "$logs/e2e-$flavour"
  if [ "$rc" != 0 ]; then
    case $counts in *", 0 failed,"*) failed=$((failed + 1));; esac
    counts="$counts (exit $rc)"
  fi
  summary+=("$(printf '%-28s %5ss  %s' "$label" $((SECONDS - started[$flavour])) "$counts")")
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "total $((SECONDS - t0))s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
