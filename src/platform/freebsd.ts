import { hostname } from 'node:os';
import { CommandError } from '../core/errors.js';
import type { Runner } from '../core/exec.js';
import { parseMountP, tableField, type MountEntry } from '../zfs/mount-table.js';
import { PREFIX } from '../zfs/naming.js';
import type { Platform, SnapshotMount } from './platform.js';
import { freebsdMemoryOf } from './memory.js';
import { umountVerboseArgv } from './syscall-batch.js';

/** mount(8) -a -F: every entry of that file, in order (fstab(5) escapes); -v reports each mount: the watchdog's progress. */
function mountTableArgv(path: string): string[] {
  return ['mount', '-a', '-v', '-F', path];
}

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
  // -v reports each target as it is unmounted: the watchdog's progress.
  umountBatchArgv: umountVerboseArgv,
  umountBatchFallbackArgv: umountVerboseArgv,
  isOurSnapshotMount(e: MountEntry) {
    return e.fstype === 'nullfs' && e.source.includes(`/.zfs/snapshot/${PREFIX}-`);
  },
  mountTableLine(m: SnapshotMount) {
    const base = m.mountpoint === '/' ? '' : m.mountpoint;
    return `${tableField(`${base}/.zfs/snapshot/${m.snapshot}`)} ${tableField(m.target)} nullfs ro 0 0\n`;
  },
  mountBatchArgv: mountTableArgv,
  mountBatchFallbackArgv: mountTableArgv,
  memory: freebsdMemoryOf,
  stateDir: '/var/run/kopiatomic',
  journalDir: '/var/db/kopiatomic',
  bootId: freebsdBootId,
  async hostId(runner) {
    try {
      const v = (await runner.run(['sysctl', '-n', 'kern.hostuuid'])).stdout.trim();
      if (v && !/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(v)) return v.toLowerCase();
    } catch (e) {
      if (!(e instanceof CommandError) || e.reason === 'program-missing') throw e;
    }
    return `name-${hostname()}`;
  },
  hasMountNamespaces: false,
};

/**
 * kern.boot_id: 16 random bytes drawn once per boot (sys/kern/kern_mib.c,
 * sysctl_bootid); opaque, so `sysctl -nx` prints it as
 * "Format: Length:16 Dump:0x<32 hex digits>". Older releases lack it: then
 * the seconds of kern.boottime ("{ sec = 1700000000, usec = 5 } Tue Nov ..."),
 * which contains no ':' but does move when the clock is stepped.
 */
export async function freebsdBootId(runner: Runner): Promise<string> {
  try {
    const id = parseBootIdDump((await runner.run(['sysctl', '-nx', 'kern.boot_id'])).stdout);
    if (id) return id;
  } catch (e) {
    if (!(e instanceof CommandError) || e.reason === 'program-missing' || e.reason === 'spawn-failed') throw e;
  }
  const text = (await runner.run(['sysctl', '-n', 'kern.boottime'])).stdout;
  const sec = parseBoottimeSec(text);
  if (sec === null) throw new Error(`cannot read the boot time from sysctl kern.boottime: ${JSON.stringify(text.trim())}`);
  return `boottime-${sec}`;
}

export function parseBootIdDump(text: string): string | null {
  const m = /Dump:0x([0-9a-f]{32})\b/i.exec(text);
  return m ? m[1]!.toLowerCase() : null;
}

export function parseBoottimeSec(text: string): string | null {
  const m = /\bsec\s*=\s*(\d+)/.exec(text);
  return m ? m[1]! : null;
}
