// Where a verification restores to: a private folder (mode 0700) on the first
// candidate filesystem with room for the restore, never inside the frozen
// tree. No candidate with room: the verification does not run (status
// "error", the reason named) and the backup's own outcome stands.
import { chmodSync, mkdtempSync, statfsSync } from 'node:fs';
import { isWithin } from '../core/paths.js';

/** Head room beyond the restore's own size: 5% and 64 MiB, for metadata and rounding. */
export function needed(bytes: number): number {
  return Math.ceil(bytes * 1.05) + 64 * 1024 * 1024;
}

export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/** Candidates in order: $KOPIATOMIC_VERIFY_DIR alone when set (the user chose), else $TMPDIR, /var/tmp, /tmp. */
export function candidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = env['KOPIATOMIC_VERIFY_DIR'];
  const list = (chosen ? [chosen] : [env['TMPDIR'], '/var/tmp', '/tmp']).filter((d): d is string => Boolean(d && d.startsWith('/')));
  return [...new Set(list.map((d) => (d.length > 1 ? d.replace(/\/+$/, '') : d)))];
}

export type Placement = { ok: true; dir: string } | { ok: false; reason: string };

/** The first candidate outside `avoid` with `bytes` (plus head room) free. */
export function placeRestore(bytes: number, avoid: string[], list: string[], free: (d: string) => number | null = freeBytes): Placement {
  const need = needed(bytes);
  const seen: string[] = [];
  for (const d of list) {
    if (avoid.some((a) => isWithin(d, a))) {
      seen.push(`${d} is inside the frozen tree`);
      continue;
    }
    const f = free(d);
    if (f === null) {
      seen.push(`${d} cannot be used`);
      continue;
    }
    if (f >= need) return { ok: true, dir: d };
    seen.push(`${d} has ${mib(f)} free`);
  }
  return { ok: false, reason: `no room to restore ${mib(bytes)} for verification (need ${mib(need)} with head room): ${seen.join('; ')}; set KOPIATOMIC_VERIFY_DIR to a folder with room` };
}

export function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** A new private folder in dir: mode 0700 whatever the umask. */
export function privateFolder(dir: string, runId: string): string {
  const d = mkdtempSync(`${dir}/kopiatomic-verify-${runId}-`);
  chmodSync(d, 0o700);
  return d;
}
