// How much memory the kernel can still give to mounted snapshots, read the
// platform's own way: Linux /proc/meminfo (and the ARC's shrinkable part from
// /proc/spl/kstat/zfs/arcstats), FreeBSD sysctl. See docs/scale.md.
import { CommandError } from '../core/errors.js';
import type { Runner } from '../core/exec.js';

export interface MemoryFigures {
  /** Bytes the kernel can hand out without swapping or starving the ARC below its minimum. */
  available: number;
  /** How that figure was made, for the message. */
  how: string;
  /** Room left in the ARC for the metadata that mounted snapshots hold (Linux OpenZFS only). */
  arcRoom?: { bytes: number; how: string };
}

function field(text: string, name: string): number | null {
  const m = new RegExp(`^${name}:?\\s+(?:\\d+\\s+)?(\\d+)(\\s*kB)?\\s*$`, 'm').exec(text);
  if (!m) return null;
  return Number(m[1]) * (m[2] ? 1024 : 1);
}

/**
 * Linux: MemAvailable, plus what the ARC holds above its minimum (the ARC
 * gives that back under pressure, but MemAvailable does not count it). A
 * mounted snapshot's metadata is held in the ARC and cannot be evicted while
 * it is mounted, so the ARC's ceiling bounds the mounts too: c_max less
 * what the ARC holds that it cannot evict (a warm ARC full of cached blocks
 * still has room: it evicts them). Once the pinned part reaches c_max, every
 * further mount waits on reclaim that cannot free anything: the crawl of
 * docs/scale.md.
 * `arcstats` is null where the file cannot be read.
 */
export function linuxMemory(meminfo: string, arcstats: string | null): MemoryFigures | null {
  const avail = field(meminfo, 'MemAvailable');
  if (avail === null) return null;
  const stat = (k: string) => (arcstats === null ? null : field(arcstats, k));
  const sum = (...ks: string[]) => ks.reduce((a, k) => a + (stat(k) ?? 0), 0);
  const size = stat('size');
  const min = stat('c_min');
  const arc = size !== null && min !== null ? Math.max(0, size - min) : 0;
  const figures: MemoryFigures = { available: avail + arc, how: arc > 0 ? 'MemAvailable + the ARC above its minimum' : 'MemAvailable' };
  const evictable = sum('mru_evictable_metadata', 'mfu_evictable_metadata', 'mru_evictable_data', 'mfu_evictable_data');
  const max = stat('c_max');
  if (max !== null && size !== null) figures.arcRoom = { bytes: Math.max(0, max - size + evictable), how: "the ARC's c_max - (size - evictable)" };
  return figures;
}

/**
 * FreeBSD: free, inactive and laundry pages (what the page daemon can
 * reuse), times the page size; `sysctl -n` prints them one a line in the
 * order asked (FREEBSD_MEMORY_SYSCTLS).
 */
export const FREEBSD_MEMORY_SYSCTLS = ['hw.pagesize', 'vm.stats.vm.v_free_count', 'vm.stats.vm.v_inactive_count', 'vm.stats.vm.v_laundry_count'];

export function freebsdMemory(sysctlOut: string): MemoryFigures | null {
  const v = sysctlOut.trim().split('\n').map((l) => Number(l.trim()));
  if (v.length !== FREEBSD_MEMORY_SYSCTLS.length || v.some((x) => !Number.isFinite(x) || x < 0)) return null;
  const [page, ...counts] = v as [number, ...number[]];
  return { available: page * counts.reduce((a, b) => a + b, 0), how: 'free + inactive + laundry pages' };
}

export async function freebsdMemoryOf(runner: Runner): Promise<MemoryFigures | null> {
  try {
    return freebsdMemory((await runner.run(['sysctl', '-n', ...FREEBSD_MEMORY_SYSCTLS])).stdout);
  } catch (e) {
    if (e instanceof CommandError) return null;
    throw e;
  }
}
