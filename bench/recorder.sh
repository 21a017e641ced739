#!/bin/bash
# The benchmark's "backup command": backs nothing up, only records what it sees.
# Called with the tree root as its last argument, like any backup command, and
# with KOPIATOMIC_SNAPSHOT set (by kopiatomic, or by bench/baseline.sh). Writes
# to $BENCH_RECORD:
#   txg POOL CREATETXG   one line per distinct (pool, createtxg) of the run's snapshots
#   snapshots COUNT      how many snapshots the run made
#   mounts COUNT         mounts at or under the tree root (/proc/self/mountinfo)
set -u
root=${!#}
out=${BENCH_RECORD:?BENCH_RECORD is not set}
snap=${KOPIATOMIC_SNAPSHOT:?KOPIATOMIC_SNAPSHOT is not set}
zfs list -H -p -t snapshot -o name,createtxg \
  | awk -F'\t' -v s="@$snap" '
      length($1) > length(s) && substr($1, length($1) - length(s) + 1) == s {
        n++; split($1, p, /[\/@]/); t[p[1] " " $2] = 1
      }
      END { for (k in t) print "txg " k; print "snapshots " n + 0 }' > "$out"
awk -v r="$root" '$5 == r || index($5, r "/") == 1 { n++ } END { print "mounts " n + 0 }' /proc/self/mountinfo >> "$out"
