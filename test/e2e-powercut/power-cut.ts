// What the two boots of the power-cut test share (see test/vm/guest-powercut.sh).
import { existsSync } from 'node:fs';
import { Pool, type Leftovers } from '../e2e/lib.js';

/** The third scratch disk: stands for the root file system, which a power cut does not discard. */
export const KEEP = '/mnt/keep';
export const ROOT = `${KEEP}/tree`;
export const JOURNAL = `/var/lib/kopiatomic/${encodeURIComponent(ROOT)}.journal`;
/** On the rig's control share, which outlives the guest: what the first boot saw just before the cut. */
export const SEEN = '/mnt/ctl/power-cut-seen.json';
export const POOLS = ['ktpc1', 'ktpc2'];
export const DISKS = ['/dev/disk/by-id/virtio-zfsvm-disk1', '/dev/disk/by-id/virtio-zfsvm-disk2'];

export interface Seen {
  /** Ours, held and mounted, at the instant of the cut. */
  ours: Leftovers;
  /** foreignState() of the pools. */
  foreign: string[];
  foreignSnaps: string[];
}

export const pools = (): Pool[] => POOLS.map((n) => Pool.existing(n));
export const backupArgs = (engine: string): string[] => ['--json', '--mount-root', ROOT, '--engine', 'command', '-c', engine, '-r', ...POOLS];
export const journalExists = (): boolean => existsSync(JOURNAL);
