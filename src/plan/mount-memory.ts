// Whether the machine can take the planned snapshot mounts. Each mounted
// snapshot costs the kernel memory that stays pinned while it is mounted
// (OpenZFS's objset, dnodes, dbufs and znodes, the superblock, the mount):
// measured in the real-OpenZFS guest (bench/scale-probe.sh, docs/scale.md).
// Past what the machine has, the mounts do not fail: they crawl for hours
// while the kernel reclaims, with our snapshots held all that time. So a run
// that would need more stops before it takes any snapshot.
import type { MemoryFigures } from '../platform/memory.js';

const MiB = 1024 * 1024;
/** Kernel memory one mounted snapshot needs (MemAvailable fell 0.78 MiB a mount on OpenZFS 2.1, 0.87 on 2.3), rounded up (docs/scale.md). */
export const SNAPSHOT_MOUNT_BYTES = 1 * MiB;
/**
 * The part of it held in the ARC: 0.69 MiB a mount measured on OpenZFS 2.1
 * (at 150 mounts and again over 1000 mounted filesystems), 0.75 on 2.3; the
 * larger one, not rounded further: past the ARC's ceiling the mounts crawl,
 * below it they run, and a 3 GiB machine with 1000 datasets fits by little.
 */
export const SNAPSHOT_MOUNT_ARC_BYTES = 0.75 * MiB;
/** Kept free for everything else: the engine, the page cache it reads through, the rest of the system. */
export const MOUNT_MEMORY_RESERVE = 256 * MiB;

export interface MountMemory {
  mounts: number;
  need: number;
  available: number;
  how: string;
  /** Set when the ARC's room is what is short. */
  arc?: boolean;
}

/** The shortfall, or null when the mounts fit (or the memory could not be read: nothing to judge). */
export function mountMemoryShortfall(mounts: number, mem: MemoryFigures | null): MountMemory | null {
  if (mem === null || mounts === 0) return null;
  const need = mounts * SNAPSHOT_MOUNT_BYTES + MOUNT_MEMORY_RESERVE;
  if (need > mem.available) return { mounts, need, available: mem.available, how: mem.how };
  const arcNeed = mounts * SNAPSHOT_MOUNT_ARC_BYTES;
  if (mem.arcRoom && arcNeed > mem.arcRoom.bytes) return { mounts, need: arcNeed, available: mem.arcRoom.bytes, how: mem.arcRoom.how, arc: true };
  return null;
}

const mib = (b: number) => (b < 10 * MiB ? `${+(b / MiB).toFixed(2)} MiB` : `${Math.round(b / MiB)} MiB`);

export function mountMemoryMessage(s: MountMemory): string {
  if (s.arc) {
    const fitArc = Math.floor(s.available / SNAPSHOT_MOUNT_ARC_BYTES);
    return (
      `not enough room in the ZFS ARC to mount ${s.mounts} snapshots: their metadata needs about ${mib(s.need)} ` +
      `(${mib(SNAPSHOT_MOUNT_ARC_BYTES)} each, held while mounted), and ${mib(s.available)} is left (${s.how}); ` +
      `this machine can take about ${fitArc} at once. Nothing was snapshotted. Split the datasets over several jobs, ` +
      `raise zfs_arc_max, or add memory (see docs/scale.md)`
    );
  }
  const fit = Math.max(0, Math.floor((s.available - MOUNT_MEMORY_RESERVE) / SNAPSHOT_MOUNT_BYTES));
  return (
    `not enough memory to mount ${s.mounts} snapshots: they need about ${mib(s.need)} ` +
    `(${mib(SNAPSHOT_MOUNT_BYTES)} of kernel memory each, and ${mib(MOUNT_MEMORY_RESERVE)} kept for the rest), ` +
    `and ${mib(s.available)} is available (${s.how}); this machine can take about ${fit} at once. ` +
    `Nothing was snapshotted. Split the datasets over several jobs, or add memory (see docs/scale.md)`
  );
}
