import { readFileSync } from 'node:fs';
import { parseMountinfo } from '../discover/mount-table.js';
import { tableField } from '../plan/mounts.js';
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
  mountTableLine(m: SnapshotMount) {
    return `${tableField(`${m.dataset}@${m.snapshot}`)} ${tableField(m.target)} zfs ro 0 0\n`;
  },
  // --internal-only: mount(8) calls mount(2) itself instead of starting
  // mount.zfs once per entry (OpenZFS >= 2.2's helper also refuses a
  // non-empty mount point). An entry already mounted is skipped.
  mountBatchArgv(path: string) {
    return ['mount', '--all', '--internal-only', '--fstab', path];
  },
  stateDir: '/run/kopiatomic',
  async bootId() {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  },
  hasMountNamespaces: true,
};
