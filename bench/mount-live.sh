#!/bin/bash
# mount-live.sh PARENT < NAMES: mounts the filesystem PARENT and its children
# named on stdin at their inherited mount points (/NAME: the pool's mountpoint
# is /POOL) with one `mount -a -i`: mount(2) directly, the way kopiatomic
# mounts its snapshots, without libzfs's work per filesystem, which is most of
# `zfs mount -a`'s time under emulation. Used by bench/scale-run.sh
# (SCALE_MOUNT=fstab) and bench/umount-probe.sh.
set -eu
parent=$1
mkdir -p "/$parent"
mount -i -t zfs "$parent" "/$parent"
names=$(mktemp)
cat > "$names"
(cd "/$parent" && sed 's|.*/||' "$names" | xargs mkdir)
awk '{ print $1, "/" $1, "zfs defaults 0 0" }' "$names" > "$names.fstab"
mount --all --internal-only --fstab "$names.fstab"
