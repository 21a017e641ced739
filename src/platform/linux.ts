import { readFileSync } from 'node:fs';
import { parseMountinfo } from '../discover/mount-table.js';
import type { Platform, SnapshotMount } from './platform.js';

export const linux: Platform = {
  name: 'linux',
  async readMounts() {
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  },
  // mount.zfs mounts the snapshot itself, read-only, without the .zfs
  // automounter, which misbehaves in namespaces and expires after 300 s.
  mountArgv(m: SnapshotMount) {
    return ['mount', '-t', 'zfs', '-o', 'ro', `${m.dataset}@${m.snapshot}`, m.target];
  },
  umountArgv(target: string) {
    return ['umount', target];
  },
  stateDir: '/run/kopiatomic',
  async bootId() {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  },
  hasMountNamespaces: true,
};
