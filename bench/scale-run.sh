#!/bin/bash
# Runs inside the zfsvm guest: one whole kopiatomic run over SCALE_N mounted
# filesystems, timed as a process, with the ARC's ceiling raised first the way
# docs/scale.md tells the admin to.
#
#   ZFSVM_MEM=2048 ZFSVM_DISKS=2G ZFSVM_IDLE_TIMEOUT=3000 \
#     ZFSVM_PASS_ENV="SCALE_N SCALE_ARC_MAX SCALE_P SCALE_CREATE_LIMIT" SCALE_N=1000 \
#     bash test/vm/zfsvm.sh run bench/scale-run.sh
#
# 1. the pool: its root, probe/home and N-2 users below it. `zfs create` waits
#    for a txg sync, so the users are made unmounted (-u) by SCALE_P processes
#    at once, whose syncs share txgs (SCALE_MAKE=lzc: SCALE_P threads of one
#    process, bench/mkfs-lzc.py); then one `zfs mount -a` (parallel), or
#    with SCALE_MOUNT=fstab one `mount -a -i` (mount(2) without libzfs). Each
#    step timed, with the rate;
# 2. the remedy: zfs_arc_max = what the ARC holds now + N x 0.75 MiB (what the
#    pre-mount check asks) x 1.1, unless SCALE_ARC_MAX (bytes) says otherwise;
# 3. `kopiatomic -r --engine command` over the pool; the command records when it
#    starts and ends and how many snapshot mounts it sees, so setup and teardown
#    come apart; a sampler every SCALE_TICK s prints our mounts, zfs/mount
#    processes alive, the ARC and MemAvailable;
# 4. what is left: snapshots, holds, mounts, the state directory.
set -u
n=${SCALE_N:-1000}
P=/sys/module/zfs/parameters
A=/proc/spl/kstat/zfs/arcstats
arcm() { awk -v k="$1" '$1 == k { print int($3 / 1048576) }' $A; }
mi() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' /proc/meminfo; }
state() { printf 'avail=%sMiB arc=%sMiB c=%sMiB c_max=%sMiB prune=%s load=%s' "$(mi MemAvailable)" "$(arcm size)" "$(arcm c)" "$(arcm c_max)" \
  "$(awk '$1 == "arc_prune" { print $3 }' $A)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }
say() { echo "SCALE $(date +%T) $*"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

say "env: $(uname -r) $(zfs version | head -1) mem=$(mi MemTotal)MiB nproc=$(nproc) $(state)"
# SCALE_ARC_FIRST (bytes): the ceiling raised before the pool is made, where the
# live filesystems alone would fill the default one (10,000 of them hold ~7 GiB).
[ -n "${SCALE_ARC_FIRST:-}" ] && echo "$SCALE_ARC_FIRST" > $P/zfs_arc_max
# Progress while the pool is made and mounted (a line every 2 minutes).
# (The count made comes from the maker: while it runs, `zfs list` barely moves.)
( while sleep 120; do say "progress: $(grep -c ' - zfs ' /proc/self/mountinfo) mounted; $(state)"; done ) &
progress=$!
t=$(date +%s%N)
zpool create -f -O atime=off -O mountpoint=/probe probe /dev/vdb || exit 1
zfs create -u probe/home
# SCALE_CREATE_LIMIT (s): stop making filesystems then and go on with those made.
if [ "${SCALE_MAKE:-zfs}" = lzc ]; then
  # One process, SCALE_P threads calling lzc_create (bench/mkfs-lzc.py).
  seq -f "probe/home/u%05g" 1 $((n - 2)) | timeout "${SCALE_CREATE_LIMIT:-0}" python3 bench/mkfs-lzc.py "${SCALE_P:-32}" >/tmp/made
else
  seq -f "probe/home/u%05g" 1 $((n - 2)) \
    | timeout "${SCALE_CREATE_LIMIT:-0}" xargs -r -P "${SCALE_P:-16}" -n "${SCALE_B:-10}" sh -c 'for d; do zfs create -u "$d" || exit 255; done' sh
fi
if [ -s /tmp/made ]; then made=$(( $(cat /tmp/made) + 2 )); else made=$(zfs list -H -o name -r probe | wc -l); fi; n=$made
c=$(ms "$t")
say "created $made filesystems in ${c} ms ($(( made * 60000 / (c + 1) )) a minute); $(state)"
t=$(date +%s%N)
if [ "${SCALE_MOUNT:-zfs}" = fstab ]; then
  # The names as made when the maker made them all, not from `zfs list`:
  # right after 10,000 were made that listing alone took 7 minutes.
  if [ -s /tmp/made ]; then seq -f "probe/home/u%05g" 1 $((n - 2)); else zfs list -H -o name -r probe/home | tail -n +2; fi \
    | bash bench/mount-live.sh probe/home || say "mount-live.sh: exit $?"
  how="mount -a -i --fstab"
else
  zfs mount -a
  how="zfs mount -a"
fi
m=$(ms "$t")
say "$how: $(grep -c ' - zfs ' /proc/self/mountinfo) mounted in ${m} ms ($(( made * 60000 / (m + 1) )) a minute); zfs says mounted: $(zfs list -H -o mounted -r probe | grep -c yes); $(state)"

kill "$progress"
# The remedy: raise the ARC's ceiling to what the snapshot mounts will need.
# What the ARC holds now (the live filesystems' metadata) + N x 0.75 MiB + 10%,
# never above the memory less 256 MiB (zfs ignores a ceiling at or above it).
arc_max=$(( $(awk '$1 == "size" { print $3 }' $A) + n * 786432 * 11 / 10 ))
[ "$arc_max" -gt $(( ($(mi MemTotal) - 256) * 1048576 )) ] && arc_max=$(( ($(mi MemTotal) - 256) * 1048576 ))
arc_max=${SCALE_ARC_MAX:-$arc_max}
# Only ever raised: below the default ceiling nothing needs changing.
[ "$arc_max" -gt $(( $(arcm c_max) * 1048576 )) ] && { echo "$arc_max" > $P/zfs_arc_max || say "could not set zfs_arc_max"; }
sleep 1
say "zfs_arc_max=$(cat $P/zfs_arc_max) ($(( arc_max / 1048576 )) MiB); $(state)"

# SCALE_COMPARE: a folder of the checkout with another tree's dist/app, run
# the same way right after this tree's run (same pool, same boot).
mkdir -p /usr/local/lib/kopiatomic /tmp/k && cp -r dist/app /usr/local/lib/kopiatomic/
[ -n "${SCALE_COMPARE:-}" ] && mkdir -p /usr/local/lib/kopiatomic-compare && cp -r "$SCALE_COMPARE/dist/app" /usr/local/lib/kopiatomic-compare/
# The engine: stamps its start and end, counts the snapshot mounts it sees.
printf '#!/bin/sh\ndate +%%s%%N > /tmp/k/cmd-start\ngrep -c @kopiatomic /proc/self/mountinfo > /tmp/k/cmd-mounts\nsleep 1\ndate +%%s%%N > /tmp/k/cmd-end\n' > /tmp/k/stamp
chmod +x /tmp/k/stamp
krun() {
  local lib=$1
  rm -f /tmp/k/cmd-start /tmp/k/cmd-end /tmp/k/cmd-mounts /tmp/k/time
  : > /tmp/k/peak
  ( while sleep "${SCALE_TICK:-10}"; do
      k=$(pgrep -f "^node $lib/" | head -1)
      hwm=$(awk '/^VmHWM/ { print int($2 / 1024) }' "/proc/$k/status" 2>/dev/null)
      say "tick mounts=$(grep -c @kopiatomic /proc/self/mountinfo) zfs_procs=$(pgrep -cx zfs) mount_procs=$(ps -eo comm= | grep -cE '^(u?mount|mount\.zfs|perl)$') node_hwm=${hwm:-?}MiB $(state)"
    done ) &
  sampler=$!
  tv=(); [ -x /usr/bin/time ] && tv=(/usr/bin/time -v -o /tmp/k/time)
  t0=$(date +%s%N)
  KOPIATOMIC_COUNT_PROCESSES=1 timeout "${SCALE_KLIMIT:-3000}" "${tv[@]}" node "$lib/app/bin/kopiatomic.js" \
    -r --json --engine command -c /tmp/k/stamp probe >/tmp/k/out 2>/tmp/k/err
  rc=$?
  t1=$(date +%s%N)
  kill "$sampler"
  setup=- teardown=-
  [ -s /tmp/k/cmd-start ] && setup=$(( ($(cat /tmp/k/cmd-start) - t0) / 1000000 ))
  [ -s /tmp/k/cmd-end ] && teardown=$(( (t1 - $(cat /tmp/k/cmd-end)) / 1000000 ))
  say "kopiatomic ($lib): exit $rc, whole $(( (t1 - t0) / 1000000 )) ms, setup ${setup} ms, teardown ${teardown} ms (the command sleeps 1 s between), snapshot mounts seen by the command: $(cat /tmp/k/cmd-mounts 2>/dev/null || echo -)"
  node -e '
    for (const l of require("fs").readFileSync("/tmp/k/out", "utf8").split("\n")) {
      if (!l.startsWith("{")) continue; const e = JSON.parse(l);
      if (e.event === "process-counts") console.log("SCALE node maxRSS=" + Math.round(e.maxRssKiB / 1024) + "MiB processes=" + JSON.stringify(e.counts));
    }' 2>/dev/null
  [ -s /tmp/k/time ] && grep -E 'Maximum resident|Elapsed|Percent of CPU|User time|System time' /tmp/k/time | sed 's/^\s*/SCALE time /'
  [ "$rc" = 0 ] || grep -v '^{' /tmp/k/out | tail -3 | cut -c1-800 | sed 's/^/SCALE k.out /'
  tail -3 /tmp/k/err | cut -c1-800 | sed 's/^/SCALE k.err /'
  say "left: snapshots=$(zfs list -H -t snapshot -o name | grep -c @kopiatomic) holds=$(zfs list -H -t snapshot -o name | xargs -r zfs holds -H 2>/dev/null | wc -l) mounts=$(grep -c @kopiatomic /proc/self/mountinfo) state: $(find /run/kopiatomic -mindepth 1 2>/dev/null | head -5 | tr '\n' ' ')"
}
krun /usr/local/lib/kopiatomic
[ -n "${SCALE_COMPARE:-}" ] && krun /usr/local/lib/kopiatomic-compare
say "$(state)"
t=$(date +%s%N); zpool destroy probe; say "pool destroyed in $(ms "$t") ms"
say done
