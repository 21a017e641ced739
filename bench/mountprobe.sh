#!/bin/bash
# mountprobe.sh POOL: how much of a snapshot mount is the mount(8) + mount.zfs
# processes and how much the mount itself. Mounts the same 20 snapshots through
# the helper (as kopiatomic and the baseline do), then with `mount -i` (no
# helper: mount(8) calls mount(2) directly). Prints: K t0 t1 t2 t3 t4 direct-ok?
set -e
pool=$1 k=20
zfs snapshot -r "$pool@probe"
mapfile -t ds < <(zfs list -H -o name -r "$pool" | head -n "$k")
for i in "${!ds[@]}"; do mkdir -p "/mnt/probe/$i"; done
t0=$EPOCHREALTIME
for i in "${!ds[@]}"; do mount -t zfs -o ro "${ds[$i]}@probe" "/mnt/probe/$i"; done
t1=$EPOCHREALTIME
for i in "${!ds[@]}"; do umount "/mnt/probe/$i"; done
t2=$EPOCHREALTIME
direct=ok
for i in "${!ds[@]}"; do mount -i -t zfs -o ro "${ds[$i]}@probe" "/mnt/probe/$i" 2>/dev/null || direct=failed; done
t3=$EPOCHREALTIME
for i in "${!ds[@]}"; do umount "/mnt/probe/$i" 2>/dev/null || true; done
t4=$EPOCHREALTIME
zfs destroy -r "$pool@probe"
rm -r /mnt/probe
echo "${#ds[@]} $t0 $t1 $t2 $t3 $t4 $direct"
