#!/usr/bin/env bash
# The power-cut pass: boots the guest, cuts its power in the middle of a backup
# (sysrq b: no sync, no unmount), boots it again with the same scratch disks
# and checks that the first run recovers everything (test/e2e-powercut, run
# by guest-powercut.sh). Disks: two pools, and an ext4 disk standing for the
# root file system that survives the cut (state directory, mount root).
# ZFSVM_FLAVOURS picks flavours (default "stable backports").
ZFSVM_DISKS="1G 1G 256M" E2E_GUEST=guest-powercut.sh E2E_TAG=e2e-powercut exec bash "$(dirname "$0")/e2e.sh"
