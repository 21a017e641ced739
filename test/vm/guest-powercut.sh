#!/bin/bash
# Runs inside the guest (see e2e-powercut.sh), once per boot. PHASE "cut" (the
# first boot) formats the third scratch disk, which stands for the root file
# system: it survives the power cut, unlike the guest's own root, which is
# discarded at every boot. It holds kopiatomic's journal directory (bound on
# /var/lib/kopiatomic) and the mount root. The test of the phase then runs:
# "cut" starts a backup and cuts the power (asking the rig for a boot running
# PHASE "after"); "after" checks that the first run recovers everything.
set -u
phase=${1:-cut}
keep=/mnt/keep
disk=/dev/disk/by-id/virtio-zfsvm-disk3
echo "guest: $(uname -r), $(zfs version | head -n1), node $(node --version), power cut: phase $phase"
if [ "$phase" = cut ]; then mkfs.ext4 -q -F -L kt-keep "$disk" || exit 1; fi
mkdir -p "$keep" /var/lib/kopiatomic
mount "$disk" "$keep" && mkdir -p "$keep/state" && mount --bind "$keep/state" /var/lib/kopiatomic || exit 1
start=$(date +%s)
node --test --test-reporter=spec "dist/test/e2e-powercut/$phase.test.js"
rc=$?
echo "guest: power cut phase $phase took $(( $(date +%s) - start ))s, exit $rc"
exit $rc
