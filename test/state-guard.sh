#!/usr/bin/env bash
# state-guard.sh CMD...: runs CMD and fails when the machine's real kopiatomic
# state changed while it ran (tests never touch it). The places are the ones
# the code uses on Linux and FreeBSD (src/safety/root-path.ts REAL_STATE_DIRS);
# each is fingerprinted before and after: existence, every entry's type,
# mode, owner, size and mtime, and every file's sha256.
#
# STATE_GUARD_ALLOW="NAME ...": file names that may change, and directory
# mtimes are not compared (the guest's e2e suite runs the real program on the
# guest's real places on purpose; what a run keeps there by design may change,
# anything else it left is a failure).
# On a change it prints the difference and "ℹ fail 1" (counted by run-all.sh),
# and exits 1.
set -uo pipefail
places=(/var/lib/kopiatomic /run/kopiatomic /var/run/kopiatomic /etc/kopiatomic /var/db/kopiatomic /usr/local/etc/kopiatomic)
allow=" ${STATE_GUARD_ALLOW:-} "

fingerprint() {
  local p line path
  for p in "${places[@]}"; do
    if [ ! -e "$p" ] && [ ! -L "$p" ]; then
      [ -n "${STATE_GUARD_ALLOW:-}" ] || echo "$p absent"
      continue
    fi
    find "$p" -printf '%p\t%y\t%m\t%U\t%s\t%T@\n' 2>/dev/null | while IFS=$'\t' read -r path type mode uid size mtime; do
      case $allow in *" ${path##*/} "*) continue ;; esac
      if [ "$type" = d ]; then
        [ -n "${STATE_GUARD_ALLOW:-}" ] && { [ "$path" = "$p" ] || echo "$path d"; continue; }
        echo "$path d $mode $uid $mtime"
      else
        line="$path $type $mode $uid $size $mtime"
        [ "$type" = f ] && line="$line $(sha256sum <"$path" 2>/dev/null | cut -d' ' -f1)"
        echo "$line"
      fi
    done
  done | sort
}

before=$(fingerprint)
"$@"
rc=$?
after=$(fingerprint)
if [ "$before" != "$after" ]; then
  echo "state-guard: the machine's real kopiatomic state changed while this ran (tests must use their own directories):"
  diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed 's/^/  /'
  echo "ℹ fail 1"
  exit 1
fi
exit $rc
