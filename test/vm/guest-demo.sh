#!/bin/bash
# Runs inside the guest: a small pool with nested datasets, a writer that keeps
# changing related files, an atomic restic backup with restomic, a restore, and
# the proof that the restored tree is exactly what the snapshot held.
set -euo pipefail
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
restomic() { node /mnt/host/dist/app/bin/restomic.js "$@"; }
work=/var/tmp/demo; mkdir -p $work

say "a pool with nested datasets"
truncate -s 512M $work/pool.img
zpool create -f -O mountpoint=/demo demo $work/pool.img
zfs create demo/mail; zfs create demo/photos; zfs create demo/photos/2026
for i in $(seq 1 50); do echo "message $i" > /demo/mail/msg-$i.eml; done
dd if=/dev/urandom of=/demo/photos/2026/img-0001.raw bs=64k count=8 status=none
echo 0 > /demo/mail/index; echo 0 > /demo/photos/2026/img-0001.xmp
zfs list -r -o name,mountpoint demo

say "a writer keeps the mail index and a photo sidecar in step (same counter in both)"
( i=0; while :; do i=$((i+1)); echo $i > /demo/mail/.i; mv /demo/mail/.i /demo/mail/index
  echo $i > /demo/photos/2026/.x; mv /demo/photos/2026/.x /demo/photos/2026/img-0001.xmp; done ) &
writer=$!
sleep 1

say "restic repository"
export RESTIC_REPOSITORY=$work/repo RESTIC_PASSWORD=demo
restic init -q && echo "initialised $RESTIC_REPOSITORY"

# The backup command: record a digest of the frozen tree restic is about to read, then run restic.
cat > $work/restic-recording <<'WRAP'
#!/bin/sh
if [ "$1" = backup ]; then
  root=$(eval echo "\${$#}")
  (cd "$root" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > /var/tmp/demo/frozen.sha256
fi
exec restic "$@"
WRAP
chmod +x $work/restic-recording

say "restomic -r demo  (one zfs snapshot for the pool, read-only mounts under /restic, restic, cleanup)"
restomic --verbose --engine restic -c "$work/restic-recording backup" -r demo
echo "restomic exited with $?"
kill $writer; wait $writer 2>/dev/null || true

say "nothing left behind"
echo "snapshots named kopiatomic-*: $(zfs list -H -t snapshot -o name | grep -c @kopiatomic || true)"
echo "mounts under /restic:        $(grep -c ' /restic' /proc/self/mountinfo || true)"
echo "/restic exists:              $([ -e /restic ] && echo yes || echo no)"

say "restore and compare with what the snapshot held"
restic snapshots
restic restore latest --target $work/restore -q
(cd $work/restore/restic && find . -type f -print0 | sort -z | xargs -0 sha256sum) > $work/restored.sha256
echo "files in the snapshot: $(wc -l < $work/frozen.sha256), restored: $(wc -l < $work/restored.sha256)"
echo "live now:  mail/index=$(cat /demo/mail/index)  photos/2026/img-0001.xmp=$(cat /demo/photos/2026/img-0001.xmp)"
echo "restored:  mail/index=$(cat $work/restore/restic/demo/mail/index)  photos/2026/img-0001.xmp=$(cat $work/restore/restic/demo/photos/2026/img-0001.xmp)"
a=$(cat $work/restore/restic/demo/mail/index); b=$(cat $work/restore/restic/demo/photos/2026/img-0001.xmp)
# The writer updates the index first, so one instant shows index = sidecar or index = sidecar + 1.
if [ "$a" -ne "$b" ] && [ "$a" -ne $((b + 1)) ]; then echo "RESULT: index $a and sidecar $b are from different instants"; exit 1; fi
if cmp -s $work/frozen.sha256 $work/restored.sha256; then
  echo "RESULT: the restored tree equals the snapshot, byte for byte; index and sidecar come from one instant"
else
  diff $work/frozen.sha256 $work/restored.sha256 || true
  echo "RESULT: the restored tree differs from the snapshot"; exit 1
fi
zpool destroy demo
