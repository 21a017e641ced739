#!/bin/bash
# Runs inside the zfsvm guest: why many snapshot mounts crawl on a small
# machine. Makes a pool of CRAWL_N filesystems (made unmounted in parallel, then
# one `zfs mount -a`, each step timed), one recursive snapshot, then for each phase in CRAWL_PHASES sets the ZFS module
# parameters the phase names and mounts every snapshot with a shell loop of
# `mount -t zfs -o ro` (the time of each mount kept), until all are mounted or
# CRAWL_LIMIT seconds, then unmounts them all. A sampler prints every
# CRAWL_TICK seconds: mounts done, the ARC's figures (arcstats), MemAvailable,
# the CPU time of the ARC's threads (arc_prune, arc_evict, arc_reap) and of
# mount, and the kernel stack of the mount that is running.
#
#   ZFSVM_MEM=2048 ZFSVM_DISKS=2G ZFSVM_IDLE_TIMEOUT=3000 ZFSVM_TIMEOUT=7200 \
#     ZFSVM_PASS_ENV="CRAWL_N CRAWL_LIMIT CRAWL_PHASES CRAWL_K" \
#     CRAWL_PHASES="default meta100:zfs_arc_meta_limit_percent=100" \
#     bash test/vm/zfsvm.sh run bench/crawl-probe.sh
#
# A phase is NAME[:PARAM=VALUE,PARAM=VALUE...]; parameters stay set for the
# phases after it. CRAWL_K=1 runs kopiatomic (-r --engine command) over the
# pool before the first phase and after the last one (its exit code, time,
# peak RSS, setup and teardown).
set -u
n=${CRAWL_N:-1000}
limit=${CRAWL_LIMIT:-300}
tick=${CRAWL_TICK:-15}
P=/sys/module/zfs/parameters
A=/proc/spl/kstat/zfs/arcstats
arcv() { awk -v k="$1" '$1 == k { print $3 }' $A; }
arcm() { awk -v k="$1" '$1 == k { print int($3 / 1048576) }' $A; }
mi() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' /proc/meminfo; }
# CPU seconds (user + system) of every thread whose name starts with these words.
cpu() {
  awk '{ c = $2; gsub(/[()]/, "", c); sub(/\/.*/, "", c)
         if (c ~ /^(arc_prune|arc_evict|arc_reap|mount|mount\.zfs|umount|kswapd0|z_zvol|dbu_evict|dbuf_evict)$/) t[c] += $14 + $15 }
       END { for (k in t) printf "%s=%.1fs ", k, t[k] / 100 }' < <(cat /proc/[0-9]*/stat 2>/dev/null)
}
state() {
  printf 'avail=%sMiB arc=%sMiB c=%sMiB c_max=%sMiB evictable_meta=%sMiB evictable_data=%sMiB meta_used=%sMiB meta_limit=%sMiB meta_max=%sMiB dnode=%sMiB prune=%s evict_skip=%s not_enough=%s throttle=%s no_grow=%s need_free=%s' \
    "$(mi MemAvailable)" "$(arcm size)" "$(arcm c)" "$(arcm c_max)" \
    "$(awk '$1 ~ /^mf?ru_evictable_metadata$/ { s += $3 } END { print int(s / 1048576) }' $A)" \
    "$(awk '$1 ~ /^mf?ru_evictable_data$/ { s += $3 } END { print int(s / 1048576) }' $A)" "$(arcm arc_meta_used)" "$(arcm arc_meta_limit)" "$(arcm arc_meta_max)" \
    "$(arcm dnode_size)" "$(arcv arc_prune)" "$(arcv evict_skip)" "$(arcv evict_not_enough)" "$(arcv memory_throttle_count)" \
    "$(arcv arc_no_grow)" "$(arcv arc_need_free)"
}
params() { for p in zfs_arc_max zfs_arc_meta_limit zfs_arc_meta_limit_percent zfs_arc_meta_strategy zfs_arc_meta_prune zfs_arc_meta_adjust_restarts; do [ -e $P/$p ] && printf '%s=%s ' $p "$(cat $P/$p)"; done; }
say() { echo "CRAWL $(date +%T) $*"; }

# CRAWL_ARC_MAX (bytes): the ARC's ceiling from the start, to reach it with fewer filesystems.
[ -n "${CRAWL_ARC_MAX:-}" ] && echo "$CRAWL_ARC_MAX" > $P/zfs_arc_max
say "env: $(uname -r) $(zfs version | tr '\n' ' ') mem=$(mi MemTotal)MiB nproc=$(nproc) params: $(params)"
say "before the pool: $(state)"
( # the sampler: mounts (all, and ours under /crawl), the ARC, threads' CPU, the running mount's kernel stack
  while sleep "$tick"; do
    say "tick mounts=$(grep -c ' /crawl/m' /proc/self/mountinfo) zfs_mounts=$(grep -c ' - zfs ' /proc/self/mountinfo) $(state) cpu: $(cpu)"
    for pid in $(pgrep -x mount.zfs) $(pgrep -x mount) $(pgrep -x zfs); do
      # (a process may end at any point here: every read tolerates that)
      s=$(cat "/proc/$pid/stack" 2>/dev/null | tr '\n' ' ' | sed 's/+0x[0-9a-f]*\/0x[0-9a-f]*//g')
      age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
      [ -n "$s" ] && say "stack $(cat /proc/$pid/comm 2>/dev/null) $pid (${age:-?}s old): $s"
    done
  done
) &
sampler=$!
# The pool: its root, probe/home and N-2 users below it, made without being
# mounted (-u: a process and a txg each, in parallel), then all mounted by one
# `zfs mount -a`, timed apart: the live mounts hold ARC metadata too.
t=$(date +%s)
zpool create -f -O atime=off -O mountpoint=/probe probe /dev/vdb || exit 1
zfs create -u probe/home
seq -f "probe/home/u%04g" 1 $((n - 2)) | xargs -r -P 6 -n 50 sh -c 'for d; do zfs create -u "$d"; done; echo "CRAWL $(date +%T) created up to $d"' sh
say "pool: $n filesystems made in $(( $(date +%s) - t )) s; $(state)"
t=$(date +%s)
zfs mount -a
say "zfs mount -a: $(grep -c ' - zfs ' /proc/self/mountinfo) mounted in $(( $(date +%s) - t )) s; $(state)"
zfs snapshot -r probe@p || exit 1
mapfile -t ds < <(zfs list -H -o name -r probe)
mkdir -p /crawl && mount -t tmpfs -o size=64m,mode=0700 none /crawl
for i in "${!ds[@]}"; do mkdir "/crawl/m$i"; done

kopia() { # LABEL
  mkdir -p /tmp/k && printf '#!/bin/sh\ndate +%%s%%N > /tmp/k/cmd-start\nsleep 1\ndate +%%s%%N > /tmp/k/cmd-end\n' > /tmp/k/stamp && chmod +x /tmp/k/stamp
  rm -f /tmp/k/cmd-start /tmp/k/cmd-end
  local t0 t1 rc setup=- teardown=-
  t0=$(date +%s%N)
  KOPIATOMIC_COUNT_PROCESSES=1 timeout "${CRAWL_KLIMIT:-900}" node /usr/local/lib/kopiatomic/app/bin/kopiatomic.js \
    -r --json --engine command -c /tmp/k/stamp probe >/tmp/k/out 2>/tmp/k/err
  rc=$?
  t1=$(date +%s%N)
  [ -s /tmp/k/cmd-start ] && setup=$(( ($(cat /tmp/k/cmd-start) - t0) / 1000000 ))
  [ -s /tmp/k/cmd-end ] && teardown=$(( (t1 - $(cat /tmp/k/cmd-end)) / 1000000 ))
  say "kopiatomic $1: exit $rc, whole $(( (t1 - t0) / 1000000 ))ms setup=${setup}ms teardown=${teardown}ms (the command sleeps 1 s between) $(node -e '
    for (const l of require("fs").readFileSync("/tmp/k/out", "utf8").split("\n")) {
      if (!l.startsWith("{")) continue; const e = JSON.parse(l);
      if (e.event === "process-counts") console.log("rss=" + Math.round(e.maxRssKiB / 1024) + "MiB counts=" + JSON.stringify(e.counts));
    }' 2>/dev/null); $(state)"
  tail -3 /tmp/k/err | cut -c1-600 | sed 's/^/CRAWL k.err /'
  say "left after it: snapshots=$(zfs list -H -t snapshot -o name | grep -c @kopiatomic) mounts=$(grep -c @kopiatomic /proc/self/mountinfo)"
}
if [ "${CRAWL_K:-0}" = 1 ]; then
  mkdir -p /usr/local/lib/kopiatomic && cp -r dist/app /usr/local/lib/kopiatomic/
  kopia "before, $(params)"
fi


for phase in ${CRAWL_PHASES:-default}; do
  name=${phase%%:*}
  if [ "$name" != "$phase" ]; then
    IFS=, read -ra sets <<< "${phase#*:}"
    for s in "${sets[@]}"; do echo "${s#*=}" > "$P/${s%%=*}" || say "could not set $s"; done
    sleep 2
  fi
  say "phase $name: $(params); $(state)"
  start=$(date +%s%N); last=$start; i=0; : > "/tmp/ms.$name"
  for d in "${ds[@]}"; do
    m0=$(date +%s%N)
    mount -t zfs -o ro "$d@p" "/crawl/m$i" || { say "mount failed at $i: $d"; break; }
    m1=$(date +%s%N)
    echo "$(( (m1 - m0) / 1000000 ))" >> "/tmp/ms.$name"
    i=$((i + 1))
    # CRAWL_RAISE=PARAM=VALUE: set CRAWL_RAISE_AFTER seconds after the ARC's
    # size first reaches its ceiling, in the middle of the loop (one change).
    if [ -n "${CRAWL_RAISE:-}" ] && [ $((i % 5)) = 0 ]; then
      if [ -z "${full:-}" ] && [ "$(arcm size)" -ge $(( $(arcm c_max) - 8 )) ]; then full=$m1; say "phase $name: the ARC reached its ceiling at mount $i; $(state)"; fi
      if [ -n "${full:-}" ] && [ -z "${raised:-}" ] && [ $(( (m1 - full) / 1000000000 )) -ge "${CRAWL_RAISE_AFTER:-90}" ]; then
        raised=1; echo "${CRAWL_RAISE#*=}" > "$P/${CRAWL_RAISE%%=*}"; say "phase $name: set $CRAWL_RAISE at mount $i; $(state)"
      fi
    fi
    if [ $((i % 25)) = 0 ]; then
      say "phase $name mounts=$i last25=$(( (m1 - last) / 1000000 ))ms total=$(( (m1 - start) / 1000000000 ))s $(state)"
      last=$m1
      [ $(( (m1 - start) / 1000000000 )) -ge "$limit" ] && { say "phase $name stopped at the time limit"; break; }
    fi
  done
  say "phase $name: $i mounts in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(state)"
  # Each mount's time, by hundreds: median and max (ms).
  for ((b = 0; b * 100 < i; b++)); do
    sed -n "$((b * 100 + 1)),$((b * 100 + 100))p" "/tmp/ms.$name" | sort -n \
      | awk -v ph="$name" -v b="$b" '{ v[NR] = $1 } END { printf "CRAWL ms %s %d-%d: median %d max %d\n", ph, b * 100 + 1, b * 100 + NR, v[int((NR + 1) / 2)], v[NR] }'
  done
  dmesg | grep -iE 'hung|blocked for|oom|out of memory' | tail -3 | sed 's/^/CRAWL dmesg /'
  t=$(date +%s%N)
  awk '$5 ~ "^/crawl/m" { print $5 }' /proc/self/mountinfo | xargs -r -n 200 umount
  say "phase $name: unmounted in $(( ($(date +%s%N) - t) / 1000000 )) ms; $(state)"
done
kill "$sampler"
[ "${CRAWL_K:-0}" = 1 ] && kopia "after, $(params)"
say "meminfo: $(grep -E '^(MemFree|MemAvailable|Slab|SUnreclaim|VmallocUsed)' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
zpool destroy probe
say done
