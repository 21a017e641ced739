#!/usr/bin/env bash
# The benchmark (issue 6): one transaction per pool, and how setup and teardown
# cost grows from 10 to 1000 datasets, kopiatomic against the original
# script's per-dataset algorithm (bench/baseline.sh), in the real-OpenZFS guest.
#
#   npm run bench                 (= tsc -p . && bash bench/run.sh)
#
# For each flavour in ZFSVM_FLAVOURS (default "stable backports": OpenZFS 2.1
# and 2.3) it boots the guest (test/vm/zfsvm.sh), runs bench/guest.sh there,
# collects the BENCH-JSON lines from the console, then prints the tables and
# writes bench/RESULTS.md. Raw results: $BENCH_OUT (default a new temp folder).
#
# Knobs (passed to the guest): BENCH_CASES ("n10 n100 n100x2 n1000 n100f repos";
# repos: one job to 1 and to 3 restic repositories, bench/repos.ts),
# BENCH_RUNS (1; the median is reported), BENCH_BASELINE_MAX (1000: the
# baseline runs in every case; at N=1000 it takes ~30 min under TCG),
# BENCH_PROFILE_N (1000: that case's kopiatomic run is made under
# node --cpu-prof and summarised; 0 = none), BENCH_COMPARE (a directory in
# the checkout with another tree's dist/app, run in turn with this one after
# each baseline run: raw results only). BENCH_PARALLEL=1 runs the
# flavours at the same time (faster, noisier). BENCH_NOTE adds a note to
# RESULTS.md. ZFSVM_TIMEOUT defaults to 10800 s here.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
[ -f dist/bench/driver.js ] && [ -f dist/app/bin/kopiatomic.js ] || { echo "bench: build first (npm run build, or npm run bench)" >&2; exit 2; }
out=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/kopiatomic-bench.XXXXXX")}
mkdir -p "$out"
export BENCH_CASES=${BENCH_CASES:-n10 n100 n100x2 n1000 n100f repos}
export ZFSVM_DISKS=${ZFSVM_DISKS:-2G 2G}
export ZFSVM_TIMEOUT=${ZFSVM_TIMEOUT:-10800}
export ZFSVM_PASS_ENV="${ZFSVM_PASS_ENV:-} BENCH_CASES BENCH_RUNS BENCH_BASELINE_MAX BENCH_PROFILE_N BENCH_COMPARE"

one() {
  local flavour=$1 rc
  if ! ZFSVM_FLAVOUR=$flavour bash test/vm/zfsvm.sh build >"$out/$flavour.build.log" 2>&1; then
    echo "bench: building the $flavour guest failed, see $out/$flavour.build.log" >&2
    return 1
  fi
  echo "bench: $flavour: running $BENCH_CASES (log: $out/$flavour.log)" >&2
  ZFSVM_FLAVOUR=$flavour bash test/vm/zfsvm.sh run bench/guest.sh 2>&1 | tee "$out/$flavour.log" \
    | grep --line-buffered -v '^BENCH-JSON ' | sed -u "s/^/[$flavour] /" >&2
  rc=${PIPESTATUS[0]}
  grep '^BENCH-JSON ' "$out/$flavour.log" | sed 's/^BENCH-JSON //' > "$out/$flavour.jsonl"
  echo "bench: $flavour: guest exit $rc" >&2
  return "$rc"
}

status=0
flavours=${ZFSVM_FLAVOURS:-stable backports}
if [ "${BENCH_PARALLEL:-0}" = 1 ]; then
  pids=()
  for f in $flavours; do one "$f" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
else
  for f in $flavours; do one "$f" || status=1; done
fi

results=()
for f in $flavours; do [ -s "$out/$f.jsonl" ] && results+=("$out/$f.jsonl"); done
[ ${#results[@]} -gt 0 ] || { echo "bench: no results" >&2; exit 1; }
node dist/bench/report.js --results bench/RESULTS.md ${BENCH_NOTE:+--note "$BENCH_NOTE"} "${results[@]}"
echo "bench: raw results in $out; tables written to bench/RESULTS.md" >&2
exit $status
