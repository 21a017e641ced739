#!/bin/bash
# Runs inside the zfsvm guest: start-up of a run, from the process start to
# its first zfs command, for a run given by flags and one given by a
# configuration file, for two builds of the program (STARTUP_A, STARTUP_B:
# dist/app directories, e.g. a copy of the previous build). A stand-in `zfs`
# first on PATH records the time and kills its parent, so each figure is
# the start-up alone. Alternating A and B keeps the comparison fair when the
# host's load drifts.
set -u
runs=${STARTUP_RUNS:-7}
a=${STARTUP_A:-dist/main-app} b=${STARTUP_B:-dist/app}
fake=$(mktemp -d)
printf '#!/bin/sh\ndate +%%s%%N > %s/t\nkill -9 $PPID\n' "$fake" > "$fake/zfs"
chmod +x "$fake/zfs"
printf '[jobs.home]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/home"]\n' > "$fake/k.toml"
one() { # DIR flag|config
  local t0
  t0=$(date +%s%N)
  if [ "$2" = flag ]; then
    PATH=$fake:$PATH node "$1/bin/kopiatomic.js" --engine command -c true tank/home >/dev/null 2>&1
  else
    PATH=$fake:$PATH node "$1/bin/kopiatomic.js" run --config "$fake/k.toml" >/dev/null 2>&1
  fi
  echo $(( ($(cat "$fake/t") - t0) / 1000000 ))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
node -e 0
for i in $(seq "$runs"); do
  for d in "$a" "$b"; do for k in flag config; do echo "$d $k $(one "$d" "$k")"; done; done
  t0=$(date +%s%N); node -e 0; echo "node-e0 - $(( ($(date +%s%N) - t0) / 1000000 ))"
done > "$fake/all"
for d in "$a" "$b"; do for k in flag config; do
  echo "STARTUP $d $k median $(awk -v d="$d" -v k="$k" '$1 == d && $2 == k { print $3 }' "$fake/all" | median) ms of: $(awk -v d="$d" -v k="$k" '$1 == d && $2 == k { printf "%s ", $3 }' "$fake/all")"
done; done
echo "STARTUP node -e 0 median $(awk '$1 == "node-e0" { print $3 }' "$fake/all" | median) ms"
