#!/bin/bash
# mkpool.sh NAME DISK N: a pool of N filesystems, all mounted: the pool's root,
# NAME/home and N-2 users below it. `zfs create` is slow under TCG (a process
# and a txg sync each), so the users are created in parallel batches without
# being mounted (-u, where zfs has it) and then mounted by one `zfs mount -a`,
# which mounts in parallel. Prints how it created them.
set -e
name=$1 disk=$2 n=$3
zpool create -f -O atime=off -O mountpoint="/$name" "$name" "$disk"
if zfs create -u "$name/home" 2>/dev/null; then u=-u; else zfs create "$name/home"; u=; fi
if [ "$n" -gt 2 ]; then
  seq -f "$name/home/u%04g" 1 $((n - 2)) \
    | xargs -r -P 8 -n 25 sh -c 'u=$1; shift; for d; do zfs create $u "$d"; done' sh "$u"
fi
zfs mount -a
echo "${u:-plain}"
