#!/bin/bash
# zcp-probe.sh [N] [ROUNDS]: runs in the guest (test/vm/zfsvm.sh run bench/zcp-probe.sh).
# What the snapshot and the reading of its identity cost as zfs commands and as
# channel programs, at N filesystems on one pool, each way timed ROUNDS times in
# turn (ms): `zfs snapshot` with 2 and 3 user properties, `zfs list` of every
# snapshot's name,guid,creation,createtxg, `zfs program -n` reading the same,
# and one `zfs program` that takes the snapshots, sets the 3 properties and
# returns the identities. Prints PROBE lines. Needs a build (npm run build): it
# reads kopiatomic's identity program from dist.
set -eu
n=${1:-100} rounds=${2:-3}
disk=$(ls /dev/vdb /dev/sdb 2>/dev/null | head -n1)
bash "$(dirname "$0")/mkpool.sh" probe "$disk" "$n" >/dev/null
zfs version | tr '\n' ' '; echo
mapfile -t ds < <(zfs list -H -o name -t filesystem -r probe)
echo "PROBE datasets ${#ds[@]}"
ms() { echo $(( (${2/./} - ${1/./}) / 1000 )); }
run=20261206T000000Z-abcdef owner=probe@host proof=$(printf '%064d' 0)

read -r -d '' SNAP_PROG <<'EOF' || true
local argv = (...)["argv"]
local run, owner, proof = argv[1], argv[2], argv[3]
for i = 4, #argv do
  local err = zfs.check.snapshot(argv[i])
  if err ~= 0 then error(argv[i] .. ": cannot snapshot: error " .. err) end
end
local ids = {}
for i = 4, #argv do
  local name = argv[i]
  local err = zfs.sync.snapshot(name)
  if err ~= 0 then error(name .. ": cannot snapshot: error " .. err) end
  err = zfs.sync.set_prop(name, "kopiatomic:run", run)
  if err ~= 0 then error(name .. ": cannot set kopiatomic:run: error " .. err) end
  err = zfs.sync.set_prop(name, "kopiatomic:owner", owner)
  if err ~= 0 then error(name .. ": cannot set kopiatomic:owner: error " .. err) end
  err = zfs.sync.set_prop(name, "kopiatomic:proof", proof)
  if err ~= 0 then error(name .. ": cannot set kopiatomic:proof: error " .. err) end
  ids[name] = tostring(zfs.get_prop(name, "guid")) .. " " .. tostring(zfs.get_prop(name, "createtxg")) .. " " .. tostring(zfs.get_prop(name, "creation"))
end
return ids
EOF
# The identity program kopiatomic runs (src/zfs/identity-program.ts, built).
READ_PROG=$(cd "$(dirname "$0")/.." && node -e "import('./dist/src/zfs/identity-program.js').then((m) => process.stdout.write(m.IDENTITY_PROGRAM))")
read -r -d '' DESTROY_PROG <<'EOF' || true
local argv = (...)["argv"]
for i = 1, #argv do zfs.sync.destroy(argv[i]) end
EOF
drop() { printf '%s\n' "$DESTROY_PROG" | zfs program probe - "$@" >/dev/null; }

for r in $(seq 1 "$rounds"); do
  snaps=("${ds[@]/%/@p2r$r}")
  t0=$EPOCHREALTIME; zfs snapshot -o kopiatomic:run=$run -o kopiatomic:owner=$owner "${snaps[@]}"; t1=$EPOCHREALTIME
  echo "PROBE round $r snapshot-2props $(ms "$t0" "$t1")"
  t0=$EPOCHREALTIME; zfs list -H -p -t snapshot -o name,guid,creation,createtxg "${snaps[@]}" >/tmp/list.out; t1=$EPOCHREALTIME
  echo "PROBE round $r list-identity $(ms "$t0" "$t1") rows $(wc -l </tmp/list.out)"
  t0=$EPOCHREALTIME; printf '%s\n' "$READ_PROG" | zfs program -n -j probe - "${snaps[@]}" >/tmp/read.json; t1=$EPOCHREALTIME
  echo "PROBE round $r program-n-identity $(ms "$t0" "$t1") bytes $(wc -c </tmp/read.json)"
  t0=$EPOCHREALTIME; zfs get -H -p -o name,property,value,source kopiatomic:run,kopiatomic:owner "${snaps[@]}" >/dev/null; t1=$EPOCHREALTIME
  echo "PROBE round $r get-props $(ms "$t0" "$t1")"
  drop "${snaps[@]}"

  snaps=("${ds[@]/%/@p3r$r}")
  t0=$EPOCHREALTIME; zfs snapshot -o kopiatomic:run=$run -o kopiatomic:owner=$owner -o kopiatomic:proof=$proof "${snaps[@]}"; t1=$EPOCHREALTIME
  echo "PROBE round $r snapshot-3props $(ms "$t0" "$t1")"
  drop "${snaps[@]}"

  snaps=("${ds[@]/%/@pgr$r}")
  t0=$EPOCHREALTIME; printf '%s\n' "$SNAP_PROG" | zfs program -j probe - "$run" "$owner" "$proof" "${snaps[@]}" >/tmp/snap.json; t1=$EPOCHREALTIME
  echo "PROBE round $r program-snapshot-3props-ids $(ms "$t0" "$t1") bytes $(wc -c </tmp/snap.json)"
  echo "PROBE round $r txgs $(zfs list -H -p -t snapshot -o createtxg "${snaps[@]}" | sort -u | wc -l) local-props $(zfs get -H -s local -o value kopiatomic:run,kopiatomic:owner,kopiatomic:proof "${snaps[@]}" | wc -l)"
  drop "${snaps[@]}"
done
echo "PROBE sample-read $(head -c 300 /tmp/read.json)"
echo "PROBE sample-snap $(head -c 300 /tmp/snap.json)"
echo "PROBE sample-list $(head -n 2 /tmp/list.out | tr '\t\n' ' |')"
printf '%s\n' "$READ_PROG" | zfs program -n probe - "${ds[0]}@nosuch" "${ds[0]}" || true
printf 'error("boom")\n' | zfs program -n -j probe - || echo "PROBE error-exit $?"
man zfs-program 2>/dev/null | grep -n -A3 'set_prop\|^ *-j\|^ *-n' | head -40 || true
zpool destroy probe
