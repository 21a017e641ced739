import { parseMountP } from '../discover/mount-table.js';
import { tableField } from '../plan/mounts.js';
import type { Platform, SnapshotMount } from './platform.js';

export const freebsd: Platform = {
  name: 'freebsd',
  async readMounts(runner) {
    return parseMountP((await runner.run(['mount', '-p'])).stdout);
  },
  // nullfs of the snapshot directory, as the original script did: it is what
  // FreeBSD users know, works for legacy mounts too (.zfs exists under any
  // mount of the dataset), and is read-only because snapshots are.
  mountArgv(m: SnapshotMount) {
    const base = m.mountpoint === '/' ? '' : m.mountpoint;
    return ['mount', '-t', 'nullfs', '-o', 'ro', `${base}/.zfs/snapshot/${m.snapshot}`, m.target];
  },
  umountArgv(target: string) {
    return ['umount', target];
  },
  mountTableLine(m: SnapshotMount) {
    const base = m.mountpoint === '/' ? '' : m.mountpoint;
    return `${tableField(`${base}/.zfs/snapshot/${m.snapshot}`)} ${tableField(m.target)} nullfs ro 0 0\n`;
  },
  // mount(8) -a -F: every entry of that file, in order (fstab(5) escapes).
  mountBatchArgv(path: string) {
    return ['mount', '-a', '-F', path];
  },
  stateDir: '/var/run/kopiatomic',
  async bootId(runner) {
    // kern.boottime changes with every boot; it is what identifies one here.
    return (await runner.run(['sysctl', '-n', 'kern.boottime'])).stdout.trim();
  },
  hasMountNamespaces: false,
};
