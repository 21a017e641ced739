import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseMountinfo, tableField, type MountEntry } from '../zfs/mount-table.js';
import { PREFIX } from '../zfs/naming.js';
import type { Platform, SnapshotMount } from './platform.js';
import { linuxMemory } from './memory.js';
import { mount2Argv, umount2Argv, umountVerboseArgv } from './syscall-batch.js';

export const linux: Platform = {
  name: 'linux',
  async readMounts() {
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  },
  async memory() {
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return null;
      }
    };
    const meminfo = read('/proc/meminfo');
    return meminfo === null ? null : linuxMemory(meminfo, read('/proc/spl/kstat/zfs/arcstats'));
  },
  // mount.zfs mounts the snapshot itself, read-only, without the .zfs
  // automounter, which misbehaves in namespaces and expires after 300 s.
  mountArgv(m: SnapshotMount) {
    return ['mount', '-t', 'zfs', '-o', 'ro', `${m.dataset}@${m.snapshot}`, m.target];
  },
  umountArgv(target: string) {
    return ['umount', target];
  },
  // umount2(2) called per target, where umount(8) reads the whole mount
  // table before each ZFS unmount (platform/syscall-batch.ts).
  umountBatchArgv(targets: readonly string[]) {
    return umount2Argv(targets) ?? umountVerboseArgv(targets);
  },
  umountBatchFallbackArgv: umountVerboseArgv,
  isOurSnapshotMount(e: MountEntry) {
    return e.fstype === 'zfs' && e.root === '/' && e.source.includes(`@${PREFIX}-`);
  },
  mountTableLine(m: SnapshotMount) {
    return `${tableField(`${m.dataset}@${m.snapshot}`)} ${tableField(m.target)} zfs ro 0 0\n`;
  },
  // mount(2) called per snapshot (platform/syscall-batch.ts), as mount(8)
  // -i does after its own reading of the table and the mount table.
  mountBatchArgv(path: string, mounts: readonly SnapshotMount[]) {
    return mount2Argv('zfs', mounts.map((m) => [`${m.dataset}@${m.snapshot}`, m.target] as const)) ?? mountTableArgv(path);
  },
  mountBatchFallbackArgv: mountTableArgv,
  stateDir: '/run/kopiatomic',
  journalDir: '/var/lib/kopiatomic',
  async bootId() {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  },
  async hostId() {
    return linuxHostId(readOrNull);
  },
  hasMountNamespaces: true,
};

/**
 * mount(8) over a table. --internal-only: it calls mount(2) itself instead
 * of starting mount.zfs once per entry (OpenZFS >= 2.2's helper also
 * refuses a non-empty mount point). An entry already mounted is skipped.
 * --verbose reports each mount (in 4 KiB blocks of about 80): the
 * watchdog's progress.
 */
function mountTableArgv(path: string): string[] {
  return ['mount', '--all', '--internal-only', '--verbose', '--fstab', path];
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The machine id (systemd, dbus: /etc/machine-id, 128 random bits written at
 * install, stable across boots and reboots, unique per installation) names
 * this host. ZFS's own hostid (/etc/hostid) is often missing or all zeros on
 * Linux, and a hostname is neither unique nor stable; they are fallbacks only.
 */
export function linuxHostId(read: (path: string) => string | null): string {
  for (const p of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    const v = read(p)?.trim();
    if (v && /^[0-9a-f]{32}$/i.test(v)) return v.toLowerCase();
  }
  const hostid = read('/etc/hostid');
  if (hostid && hostid.length >= 4) {
    const hex = Buffer.from(hostid, 'latin1').subarray(0, 4).readUInt32LE(0).toString(16).padStart(8, '0');
    if (hex !== '00000000') return `hostid-${hex}`;
  }
  return `name-${hostname()}`;
}
