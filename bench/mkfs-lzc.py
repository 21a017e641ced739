#!/usr/bin/env python3
# mkfs-lzc.py [THREADS] < NAMES: makes one filesystem per line of stdin, left
# unmounted, in one process through libzfs_core's lzc_create, THREADS at once
# so that their syncs share txgs. `zfs create -u` does the same ioctl but costs
# a process start each (the program, its libraries, libzfs's set-up), which is
# most of its time under emulation. Used by bench/scale-run.sh (SCALE_MAKE=lzc).
# Prints the count made; exits 1 if any failed (the first errors named). Says
# on stderr how many are made every PROGRESS (default 500): while the threads
# create, a `zfs list` of the pool barely moves.
import ctypes
import ctypes.util
import os
import sys
import threading
import time

names = [line.strip() for line in sys.stdin if line.strip()]
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 32
every = int(os.environ.get('PROGRESS', '500'))
start = time.monotonic()
lib = ctypes.CDLL(ctypes.util.find_library('zfs_core') or 'libzfs_core.so.3')
if lib.libzfs_core_init() != 0:
    sys.exit('mkfs-lzc: libzfs_core_init failed')
# int lzc_create(const char *, enum lzc_dataset_type, nvlist_t *props, uint8_t *wkeydata, uint_t wkeylen)
lib.lzc_create.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
LZC_DATSET_TYPE_ZFS = 2
lock = threading.Lock()
todo = iter(names)
made = 0
errors = []


def work():
    global made
    while True:
        with lock:
            name = next(todo, None)
        if name is None:
            return
        # ctypes lets go of the GIL during the call, so the threads' ioctls overlap.
        rc = lib.lzc_create(name.encode(), LZC_DATSET_TYPE_ZFS, None, None, 0)
        with lock:
            if rc == 0:
                made += 1
                if made % every == 0:
                    print(f'mkfs-lzc: {made} made in {time.monotonic() - start:.0f} s', file=sys.stderr, flush=True)
            else:
                errors.append(f'{name}: {os.strerror(rc)}')


pool = [threading.Thread(target=work) for _ in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
print(made)
for e in errors[:5]:
    print('mkfs-lzc:', e, file=sys.stderr)
sys.exit(1 if errors else 0)
