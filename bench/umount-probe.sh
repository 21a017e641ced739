#!/bin/bash
# Runs inside the zfsvm guest: how long one snapshot unmount takes when many
# filesystems and snapshots are mounted, and where the kernel spends it.
#
#   ZFSVM_MEM=8192 ZFSVM_DISKS=4G ZFSVM_PASS_ENV="UMOUNT_N UMOUNT_DIRECT UMOUNT_BATCH" UMOUNT_N=2000 UMOUNT_DIRECT=1 \
#     bash test/vm/zfsvm.sh run bench/umount-probe.sh
#
# UMOUNT_N filesystems are made (bench/mkfs-lzc.py) and mounted, one
# recursive snapshot taken, its N snapshots mounted by one `mount -a -i`
# (as kopiatomic does), then unmounted by `umount` processes of UMOUNT_BATCH
# (250) targets each, every batch timed; the running umount's kernel stack is sampled
# every 0.2 s and the most frequent frames printed.
#
# UMOUNT_DIRECT=1: every other batch calls umount2(2) itself, without
# umount(8)'s read of the mount table (perl's syscall(); 166 is umount2's
# number on x86_64, 8 is UMOUNT_NOFOLLOW), to compare the two in one boot.
set -u
n=${UMOUNT_N:-3000}
direct=${UMOUNT_DIRECT:-0}
batch=${UMOUNT_BATCH:-250}
say() { echo "UMOUNT $(date +%T) $*"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
arcm() { awk -v k="$1" '$1 == k { print int($3 / 1048576) }' /proc/spl/kstat/zfs/arcstats; }
# The ARC ceiling at three quarters of the memory, above what the mounts pin
# (past the ceiling the ARC prunes every mounted filesystem: docs/scale.md).
echo $(( $(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) * 1024 * 3 / 4 )) > /sys/module/zfs/parameters/zfs_arc_max
zpool create -f -O atime=off -O mountpoint=/probe probe /dev/vdb || exit 1
zfs create -u probe/home
t=$(date +%s%N)
seq -f "probe/home/u%05g" 1 "$n" | python3 bench/mkfs-lzc.py 64 >/dev/null || exit 1
say "made $n in $(ms "$t") ms"
t=$(date +%s%N)
seq -f "probe/home/u%05g" 1 "$n" | bash bench/mount-live.sh probe/home || exit 1
say "live mounted: $(grep -c ' - zfs ' /proc/self/mountinfo) in $(ms "$t") ms; arc $(arcm size) MiB"
t=$(date +%s%N)
zfs snapshot -r probe/home@s || exit 1
say "snapshot -r in $(ms "$t") ms"
mkdir -p /snaps && mount -t tmpfs -o mode=0700 none /snaps
(cd /snaps && seq -f "u%05g" 1 "$n" | xargs mkdir)
seq -f "%05g" 1 "$n" | awk '{ print "probe/home/u" $1 "@s /snaps/u" $1 " zfs ro 0 0" }' > /tmp/snaps.fstab
t=$(date +%s%N)
mount --all --internal-only --fstab /tmp/snaps.fstab
m=$(ms "$t")
say "snapshots mounted: $(grep -c '@s ' /proc/self/mountinfo) in $m ms ($(( n * 1000 / (m + 1) )) a second); arc $(arcm size) of $(arcm c_max) MiB, arc_prune $(awk '$1 == "arc_prune" { print $3 }' /proc/spl/kstat/zfs/arcstats)"
: > /tmp/stacks
( while sleep 0.2; do
    for pid in $(pgrep -x umount); do
      cat "/proc/$pid/stack" 2>/dev/null | sed 's/+0x[0-9a-f]*\/0x[0-9a-f]*//' | head -12 | tr '\n' ' ' >> /tmp/stacks
      echo >> /tmp/stacks
    done
  done ) &
sampler=$!
i=1; k=0
while [ "$i" -le "$n" ]; do
  j=$(( i + batch - 1 )); [ "$j" -gt "$n" ] && j=$n
  left=$(grep -c '@s ' /proc/self/mountinfo)
  t=$(date +%s%N)
  if [ "$direct" = 1 ] && [ $(( k % 2 )) = 1 ]; then
    how=umount2
    seq -f "/snaps/u%05g" "$i" "$j" | xargs perl -e 'for (@ARGV) { syscall(166, $_, 8) == 0 or die "$_: $!\n" }'
  else
    how=umount
    seq -f "/snaps/u%05g" "$i" "$j" | xargs umount
  fi
  m=$(ms "$t")
  say "$how $i-$j with $left snapshot mounts before: $m ms ($(( (j - i + 1) * 1000 / (m + 1) )) a second)"
  i=$(( j + 1 )); k=$(( k + 1 ))
done
say "snapshot mounts left: $(grep -c '@s ' /proc/self/mountinfo)"
kill "$sampler"
say "stack samples: $(wc -l < /tmp/stacks); the most frequent frames:"
tr ' ' '\n' < /tmp/stacks | grep -v '^$' | sort | uniq -c | sort -rn | head -25 | sed 's/^/UMOUNT frame /'
say "the most frequent whole stacks (top 4 frames):"
awk '{ print $1, $2, $3, $4 }' /tmp/stacks | sort | uniq -c | sort -rn | head -8 | sed 's/^/UMOUNT stack /'
say done
