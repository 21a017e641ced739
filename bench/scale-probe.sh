#!/bin/bash
# Runs inside the zfsvm guest: what one mounted snapshot costs the kernel, and
# where the time of many snapshot mounts goes on a small machine.
#
#   ZFSVM_MEM=2048 ZFSVM_DISKS=2G ZFSVM_PASS_ENV="PROBE_N PROBE_LIMIT PROBE_K PROBE_ARC_MAX" \
#     PROBE_N=1000 bash test/vm/zfsvm.sh run bench/scale-probe.sh
#
# 1. a pool of PROBE_N filesystems (bench/mkpool.sh), one recursive snapshot;
# 2. mount(8) alone: a shell loop of `mount -t zfs -o ro` into a tmpfs tree, one
#    line per 25 mounts with the time of those 25, MemAvailable, slab, the ARC
#    and the mount table's size, until all are mounted or PROBE_LIMIT seconds;
#    the slab caches that grew most over the first 200 mounts;
# 3. unmount all; with PROBE_K=1, kopiatomic itself (-r --engine command) over
#    the same pool, its mount count sampled every 10 s.
# PROBE_LIVE=0 leaves the live filesystems unmounted (faster to make; no -r run then).
set -u
n=${PROBE_N:-1000}
limit=${PROBE_LIMIT:-420}
[ -n "${PROBE_ARC_MAX:-}" ] && echo "$PROBE_ARC_MAX" > /sys/module/zfs/parameters/zfs_arc_max
arc() { awk -v k="$1" '$1 == k { print int($3 / 1048576) }' /proc/spl/kstat/zfs/arcstats; }
mi() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' /proc/meminfo; }
slab_kib() { awk 'NR > 2 { s += $3 * $4 } END { print int(s / 1024) }' /proc/slabinfo; }
snap_slab() { awk 'NR > 2 { print $1, $3 * $4 }' /proc/slabinfo | sort > "$1"; }
state() {
  printf 'avail=%sMiB free=%sMiB slab=%sMiB sunreclaim=%sMiB slabinfo=%sKiB arc=%sMiB arc_c=%sMiB meta=%sMiB prune=%s evict_skip=%s mountinfo=%sB' \
    "$(mi MemAvailable)" "$(mi MemFree)" "$(mi Slab)" "$(mi SUnreclaim)" "$(slab_kib)" "$(arc size)" "$(arc c)" \
    "$(awk '$1 == "arc_meta_used" || $1 == "metadata_size" { s += $3 } END { print int(s / 1048576) }' /proc/spl/kstat/zfs/arcstats)" \
    "$(awk '$1 == "arc_prune" { print $3 }' /proc/spl/kstat/zfs/arcstats)" \
    "$(awk '$1 == "evict_skip" { print $3 }' /proc/spl/kstat/zfs/arcstats)" \
    "$(wc -c < /proc/self/mountinfo)"
}
echo "PROBE env: $(uname -r) $(zfs version | tr '\n' ' ') mem=$(mi MemTotal)MiB arc_max=$(arc c_max)MiB arc_min=$(arc c_min)MiB"
t=$(date +%s)
if [ "${PROBE_LIVE:-1}" = 1 ]; then
  bash bench/mkpool.sh probe /dev/vdb "$n" >/dev/null || exit 1
else
  # Only the snapshots are mounted: the live filesystems stay unmounted (-u).
  zpool create -f -O atime=off -O mountpoint=/probe-live probe /dev/vdb || exit 1
  zfs create -u probe/home
  seq -f "probe/home/u%04g" 1 $((n - 2)) | xargs -r -P 4 -n 50 sh -c 'for d; do zfs create -u "$d"; done; echo "PROBE created up to $d"' sh
fi
echo "PROBE pool: $n filesystems in $(( $(date +%s) - t )) s; $(state)"
zfs snapshot -r probe@p || exit 1
sync; echo 3 > /proc/sys/vm/drop_caches
mkdir -p /probe && mount -t tmpfs -o size=64m,mode=0700 none /probe
mapfile -t ds < <(zfs list -H -o name -r probe)
# Flat targets: a snapshot's tree is read-only, so nothing is mounted inside another.
for i in "${!ds[@]}"; do mkdir "/probe/m$i"; done
echo "PROBE before: $(state)"
snap_slab /tmp/slab0
a0=$(arc size); s0=$(mi Slab); av0=$(mi MemAvailable)
start=$(date +%s%N); last=$start; i=0
for d in "${ds[@]}"; do
  mount -t zfs -o ro "$d@p" "/probe/m$i" || { echo "PROBE mount failed at $i: $d"; break; }
  i=$((i + 1))
  if [ "$i" = 200 ]; then
    snap_slab /tmp/slab200
    echo "PROBE per mount over the first 200: slab $(( ($(mi Slab) - s0) * 1024 / 200 )) KiB, arc $(( ($(arc size) - a0) * 1024 / 200 )) KiB, MemAvailable $(( (av0 - $(mi MemAvailable)) * 1024 / 200 )) KiB"
    join /tmp/slab0 /tmp/slab200 | awk '{ d = $3 - $2; if (d > 0) print d, $1 }' | sort -rn | head -12 \
      | awk '{ printf "PROBE slab+ %s %d KiB (%.1f KiB/mount)\n", $2, $1 / 1024, $1 / 1024 / 200 }'
  fi
  if [ $((i % 25)) = 0 ]; then
    now=$(date +%s%N)
    echo "PROBE mounts=$i last25=$(( (now - last) / 1000000 ))ms total=$(( (now - start) / 1000000000 ))s $(state)"
    last=$now
    [ $(( (now - start) / 1000000000 )) -ge "$limit" ] && { echo "PROBE stopped at the time limit"; break; }
  fi
done
echo "PROBE loop: $i mounts in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(state)"
grep -E '^(MemTotal|MemFree|MemAvailable|Buffers|Cached|Slab|SReclaimable|SUnreclaim|KernelStack|PageTables|VmallocUsed|Percpu)' /proc/meminfo | sed 's/^/PROBE meminfo /'
snap_slab /tmp/slab1
join /tmp/slab0 /tmp/slab1 | awk '{ d = $3 - $2; if (d > 0) print d, $1 }' | sort -rn | head -8 \
  | awk -v i="$i" '{ printf "PROBE slab+all %s %d KiB (%.1f KiB/mount)\n", $2, $1 / 1024, $1 / 1024 / i }'
t=$(date +%s%N)
awk '$5 ~ "^/probe/" { print $5 }' /proc/self/mountinfo | sort -r | xargs -r umount
echo "PROBE umount: $(( ($(date +%s%N) - t) / 1000000 )) ms; $(state)"
if [ "${PROBE_K:-0}" = 1 ]; then
  ( while sleep 10; do echo "PROBE k-mounts=$(grep -c '@kopiatomic' /proc/self/mountinfo) $(state) $(ps -o rss=,etimes=,comm= -C mount | tr '\n' ' ')"; done ) &
  sampler=$!
  t=$(date +%s%N)
  tv=(); [ -x /usr/bin/time ] && tv=(/usr/bin/time -v)
  timeout "${PROBE_KLIMIT:-600}" "${tv[@]}" node dist/app/bin/kopiatomic.js -r --engine command -c true probe 2>/tmp/k.err >/tmp/k.out
  rc=$?
  kill "$sampler"
  echo "PROBE kopiatomic exit $rc in $(( ($(date +%s%N) - t) / 1000000 )) ms; $(grep -E 'Maximum resident|Elapsed' /tmp/k.err | tr '\n' ' ')"
  tail -5 /tmp/k.err | sed 's/^/PROBE k.err /'
fi
zpool destroy probe
[ "${PROBE_STARTUP:-0}" = 1 ] && bash bench/startup-probe.sh
echo "PROBE done"
