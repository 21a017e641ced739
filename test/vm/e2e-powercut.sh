#!/usr/bin/env bash
# The power-cut pass: boots the guest, cuts its power in the middle of a backup
# (sysrq b: no sync, no unmount), boots it again with the same scratch disks
# and checks that the first run recovers everything (test/e2e-powercut, run
# by guest-powercut.sh). Disks: two pools, and an ext4 disk standing for the
# root file system that survives the cut (state directory, mount root).
# What the cut loses: everything only in the guest's memory (its page cache,
# /run, every process); what it keeps: what the guest had written to its disks
# (cache=unsafe keeps those writes in the host's file cache, flushed or not).
# So it models a machine whose disks do not lose acknowledged writes; a drive
# that drops its own write cache is not modelled.
# ZFSVM_FLAVOURS picks flavours (default "stable backports").
ZFSVM_DISKS="1G 1G 256M" E2E_GUEST=guest-powercut.sh E2E_TAG=e2e-powercut exec bash "$(dirname "$0")/e2e.sh"
