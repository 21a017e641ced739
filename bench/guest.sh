#!/bin/bash
# Runs inside the zfsvm guest (see bench/run.sh): describes the machine, then
# runs the benchmark driver. Results go to the console as BENCH-JSON lines.
set -u
zv=$(zfs version 2>/dev/null | tr '\n' ' ')
t0=$(date +%s%N); node -e 0; t1=$(date +%s%N); node -e 0; t2=$(date +%s%N)
printf 'BENCH-JSON {"type":"env","kernel":"%s","zfs":"%s","nproc":%s,"memMiB":%s,"node":"%s","nodeStartMs":[%s,%s]}\n' \
  "$(uname -r)" "$zv" "$(nproc)" "$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)" "$(node --version)" \
  $(( (t1 - t0) / 1000000 )) $(( (t2 - t1) / 1000000 ))
exec node dist/bench/driver.js
