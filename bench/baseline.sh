#!/bin/bash
# The baseline: the original script's per-dataset algorithm (see
# shared/docs/ORIGINAL.md, "Flow"), adapted to Linux mounts. It is here to be
# measured against, not used: it keeps the original's defects on purpose
# (N transactions, ~5 processes per dataset, unmount retries).
#
#   baseline.sh [-a | -r] [DATASET...]      (-a: every filesystem)
#
# Env: BASELINE_COMMAND  the backup command (split on spaces, like the original's -c);
#                        the tree root is appended
#      BASELINE_ROOT     the tree root (default /kopia)
#      BASELINE_COUNTS   file: one line per zfs/mount/umount process started
#      BASELINE_TIMES    file: "backup-start EPOCH" and "backup-end EPOCH" (seconds, µs)
# zfs, mount and umount are shell functions that count, then run the real program:
# no extra process per call, so the counting does not slow the baseline down.
set -u
umask 077
root=${BASELINE_ROOT:-/kopia}
counts=${BASELINE_COUNTS:-/dev/null}
times=${BASELINE_TIMES:-/dev/null}
zfs() { echo zfs >> "$counts"; command zfs "$@"; }
mount() { echo mount >> "$counts"; command mount "$@"; }
umount() { echo umount >> "$counts"; command umount "$@"; }

all=0 rec=()
while getopts ar opt; do
  case $opt in a) all=1 ;; r) rec=(-r) ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $all = 1 ] || [ $# -gt 0 ] || { echo "baseline: no datasets" >&2; exit 2; }
[ $all = 1 ] && set --

snap=kopiatomic_$$_$(date +%Y-%m-%d_%H.%M.%S)
tmp=$(mktemp -d /tmp/.kopiatomic_$$_XXXXXX)

# 1. Validate: one zfs list of every target.
datasets=$(zfs list -H -o name -t filesystem "${rec[@]}" "$@") || exit 1

# 2. One zfs snapshot per dataset, in sequence: N transactions.
while IFS= read -r ds; do
  zfs snapshot "$ds@$snap"
done <<< "$datasets"

# 3. Per dataset: zfs get mountpoint, mkdir -p, mount the snapshot read-only.
while IFS= read -r ds; do
  mp=$(zfs get -H -o value mountpoint "$ds")
  [ "$mp" = none ] && continue
  [ -d "$mp/.zfs/snapshot/$snap" ] || continue
  dest=$root$mp
  mkdir -p "$dest"
  mount -t zfs -o ro "$ds@$snap" "$dest" && echo "$dest" >> "$tmp/mounts"
done <<< "$datasets"

# 4. One backup of the whole tree.
export KOPIATOMIC_SNAPSHOT=$snap
echo "backup-start $EPOCHREALTIME" >> "$times"
# shellcheck disable=SC2086  # split on spaces, as the original does
${BASELINE_COMMAND:?BASELINE_COMMAND is not set} "$root"
rc=$?
echo "backup-end $EPOCHREALTIME" >> "$times"

# 5. Clean up: unmount everything recorded, retrying (parents are listed before
#    their children, so a pass only unmounts the leaves), rm the tree, destroy
#    every snapshot of this run, one process each.
if [ -f "$tmp/mounts" ]; then
  mapfile -t left < "$tmp/mounts"
  for _ in 1 2 3 4 5 6; do
    [ ${#left[@]} -eq 0 ] && break
    next=()
    for d in "${left[@]}"; do umount "$d" 2>/dev/null || next+=("$d"); done
    left=("${next[@]}")
  done
fi
rm -r "$root"
zfs list -H -o name -t snapshot | grep -F "@$snap" | while IFS= read -r s; do zfs destroy "$s"; done
rm -r "$tmp"
exit 0  # the original hides a failed backup
