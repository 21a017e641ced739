// Where a verification restores to: a private folder (mode 0700) on the first
// candidate filesystem with room for the restore, never inside the frozen
// tree. No candidate with room: the verification does not run (status
// "error", the reason named) and the backup's own outcome stands.
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { isWithin } from '../core/paths.js';
import { checkRootPath, requireRootPath } from '../safety/root-path.js';

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
  return { ok: false, reason: `no room to restore ${mib(bytes)} for verification (need ${mib(need)} with head room): ${seen.join('; ')}; set KOPIATOMIC_VERIFY_DIR to a directory with room` };
}

export function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

// The restore directory's place may be sticky and writable by all (/tmp):
// mkdtemp makes a new directory that others cannot rename or replace there.
// A place another account owns or can write to without the sticky bit is
// refused (root-path.ts): that account could swap our directory for a link.
const PLACE = { what: 'verification directory', stickyDir: true };

/** A new private folder in dir: mode 0700 whatever the umask. */
export function privateFolder(dir: string, runId: string): string {
  const d = mkdtempSync(`${requireRootPath(dir, PLACE).real}/kopiatomic-verify-${runId}-`);
  chmodSync(d, 0o700);
  return d;
}

const OURS = /^kopiatomic-verify-\d{8}T\d{6}Z-(\d+)-[0-9a-f]{6}-[A-Za-z0-9]{6}$/;

/**
 * Restore folders left by a run that was killed mid-verification (SIGKILL, a
 * power cut): a full copy of a backup must not linger. A folder is removed
 * only when its name is ours, it is a real folder owned by us, and the
 * process named in its run id is gone (a live pid, even a reused one, keeps it).
 */
export function removeStaleFolders(dirs: string[], warn: (m: string) => void): void {
  for (const d of dirs) {
    if (checkRootPath(d, PLACE).problem) continue;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = OURS.exec(n);
      if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
      const p = `${d}/${n}`;
      try {
        const st = lstatSync(p);
        if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0)) continue;
        rmSync(p, { recursive: true, force: true });
        warn(`removed ${p}, left by a run that died while verifying`);
      } catch (e) {
        warn(`could not remove ${p}: ${(e as Error).message}`);
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
