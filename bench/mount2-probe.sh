#!/bin/bash
# Runs inside the zfsvm guest: MP_N snapshots mounted by `mount --all
# --internal-only --verbose --fstab` (mount(8), the fallback) and by one perl
# process calling mount(2) per snapshot (as kopiatomic does on Linux, x86_64
# numbers: mount 165, umount2 166), taking turns in one boot, in batches of
# MP_BATCH, each unmounted by umount2 between rounds.
#
#   ZFSVM_DISKS=2G ZFSVM_PASS_ENV="MP_N MP_BATCH MP_ROUNDS" MP_N=100 MP_ROUNDS=5 \
#     bash test/vm/zfsvm.sh run bench/mount2-probe.sh
set -u
n=${MP_N:-100}; batch=${MP_BATCH:-100}; rounds=${MP_ROUNDS:-4}
say() { echo "MP $(date +%T) $*"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
echo $(( $(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) * 1024 * 3 / 4 )) > /sys/module/zfs/parameters/zfs_arc_max
zpool create -f -O atime=off -O mountpoint=/probe probe /dev/vdb || exit 1
zfs create -u probe/home
seq -f "probe/home/u%05g" 1 "$n" | python3 bench/mkfs-lzc.py 64 >/dev/null || exit 1
seq -f "probe/home/u%05g" 1 "$n" | bash bench/mount-live.sh probe/home || exit 1
zfs snapshot -r probe/home@s || exit 1
mkdir -p /snaps && mount -t tmpfs -o mode=0700 none /snaps
(cd /snaps && seq -f "u%05g" 1 "$n" | xargs mkdir)
say "ready: $(grep -c ' - zfs ' /proc/self/mountinfo) zfs mounts"
M='$|=1;my$r=0;my$z="zfs";while(@ARGV){my($s,$t)=splice(@ARGV,0,2);if(syscall(165,$s,$t,$z,1,0)==0){print "$t\n"}else{print STDERR "$t: $!\n";$r=1}}exit $r'
U='for (@ARGV) { syscall(166, $_, 8) == 0 or die "$_: $!\n" }'
for r in $(seq 1 "$rounds"); do
  for how in mount8 mount2; do
    i=1
    tot=0
    while [ "$i" -le "$n" ]; do
      j=$(( i + batch - 1 )); [ "$j" -gt "$n" ] && j=$n
      before=$(grep -c '@s ' /proc/self/mountinfo)
      seq -f "%05g" "$i" "$j" | awk '{ print "probe/home/u" $1 "@s /snaps/u" $1 " zfs ro 0 0" }' > /tmp/snaps.fstab
      t=$(date +%s%N)
      if [ $how = mount8 ]; then
        mount --all --internal-only --verbose --fstab /tmp/snaps.fstab > /dev/null
      else
        seq -f "%05g" "$i" "$j" | awk '{ print "probe/home/u" $1 "@s"; print "/snaps/u" $1 }' | xargs perl -e "$M" > /dev/null
      fi
      m=$(ms "$t"); tot=$(( tot + m ))
      [ "$batch" -lt "$n" ] && say "$how $i-$j with $before before: $m ms ($(( (j - i + 1) * 1000 / (m + 1) ))/s)"
      i=$(( j + 1 ))
    done
    say "round $r $how: $(grep -c '@s ' /proc/self/mountinfo) mounted in $tot ms"
    t=$(date +%s%N)
    seq -f "/snaps/u%05g" "$n" -1 1 | xargs perl -e "$U"
    say "round $r unmounted by umount2 in $(ms "$t") ms; left $(grep -c '@s ' /proc/self/mountinfo)"
  done
done
say done
