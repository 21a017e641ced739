// The engine's CPU and I/O priority (a job's `nice` and `io_class`), as words
// put before the engine's command: nice(1) and ionice(1) set them and exec
// the engine, so only the engine (and what it starts) runs at them, never zfs
// or the hooks. Both are inherited by the engine's children and threads,
// which setting them on a started process would not be (its first threads
// already run).
import { getPriority } from 'node:os';
import type { Platform } from '../platform/platform.js';

export interface Priority {
  /** The engine's nice value, absolute (-20..19); null: as ours. */
  nice: number | null;
  ioClass: 'idle' | 'best-effort' | null;
}

/** ionice(1) classes: 2 best-effort, 3 idle. */
const IO_CLASS = { 'best-effort': '2', idle: '3' } as const;

/**
 * The prefix, and a note for what this platform cannot do. nice(1) adds to
 * our own nice value (a unit's Nice=, say), so the increment is the job's
 * value minus ours: the engine gets the job's value whatever ours is.
 * FreeBSD has no ionice: the I/O class is left out.
 */
export function priorityPrefix(p: Priority, platform: Platform['name'], ownNice: number): { argv: string[]; note: string | null } {
  const argv: string[] = [];
  if (p.nice !== null) argv.push('nice', '-n', String(p.nice - ownNice));
  let note: string | null = null;
  if (p.ioClass !== null) {
    if (platform === 'linux') argv.push('ionice', '-c', IO_CLASS[p.ioClass]);
    else note = `io_class ${p.ioClass} is not applied: ${platform} has no I/O scheduling classes (ionice); nice is`;
  }
  return { argv, note };
}

/** The prefix for this process (its own nice value read now); a note goes to `warn`. */
export function enginePrefix(p: Priority, platform: Platform['name'], warn: (m: string) => void): string[] {
  const { argv, note } = priorityPrefix(p, platform, getPriority());
  if (note) warn(note);
  return argv;
}
