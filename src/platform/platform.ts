// What differs between Linux and FreeBSD: the mount table, how a snapshot is
// mounted, where runtime state lives, what identifies a boot and a host, namespaces.
import type { Runner } from '../core/exec.js';
import type { MountEntry } from '../zfs/mount-table.js';
import type { MemoryFigures } from './memory.js';

export interface SnapshotMount {
  dataset: string;
  snapshot: string; // the part after '@'
  mountpoint: string; // where the live dataset is mounted
  target: string; // where the snapshot goes
}

export interface Platform {
  readonly name: 'linux' | 'freebsd';
  readMounts(runner: Runner): Promise<MountEntry[]>;
  mountArgv(m: SnapshotMount): string[];
  umountArgv(target: string): string[];
  /**
   * One process that unmounts `targets` in this order (children first),
   * reporting each as it is done: the watchdog's progress (core/exec.ts).
   */
  umountBatchArgv(targets: readonly string[]): string[];
  /** umount(8) over the same targets: where umountBatchArgv's program is not installed. */
  umountBatchFallbackArgv(targets: readonly string[]): string[];
  /** True when a mount table entry is a mount of one of our snapshots (any run), as mountArgv makes them. */
  isOurSnapshotMount(e: MountEntry): boolean;
  /** One line of a mount table (fstab(5) format) mounting this snapshot; see plan/mounts.ts. */
  mountTableLine(m: SnapshotMount): string;
  /**
   * One process that mounts `mounts` in order, reporting each as it is done
   * (the watchdog's progress). `path` is where their mount table
   * (mountTableLine) is written first: mount(8) reads it.
   */
  mountBatchArgv(path: string, mounts: readonly SnapshotMount[]): string[];
  /** mount(8) over the table at `path`: where mountBatchArgv's program is not installed. */
  mountBatchFallbackArgv(path: string): string[];
  /** Runtime state (lock, known leftovers, boot marker, mount tables); cleared at boot. */
  readonly stateDir: string;
  /** The journal: on disk, since the folders it records outlive a reboot. */
  readonly journalDir: string;
  bootId(runner: Runner): Promise<string>;
  /** Stable across boots and unique to this installation: the owner of our snapshots names it. */
  hostId(runner: Runner): Promise<string>;
  /** Memory the kernel can still give to snapshot mounts (null: could not be read). */
  memory?(runner: Runner): Promise<MemoryFigures | null>;
  /** Private mount namespaces (the `paths` layout for restic). */
  readonly hasMountNamespaces: boolean;
}
