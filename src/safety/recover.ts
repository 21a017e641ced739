// Recovery: undo whatever an earlier run left behind (a crash, SIGKILL, a
// power cut), in order: unmount, rmdir, release holds, destroy. It only ever
// touches snapshots that carry our run property and whose run is not alive.
import { existsSync, readdirSync, rmdirSync, lstatSync } from 'node:fs';
import { posix } from 'node:path';
import type { Runner } from '../core/exec.js';
import { CommandError, quoteArgv } from '../core/errors.js';
import type { Reporter } from '../core/report.js';
import { parseSnapshotList, zfsListSnapshotsArgv, type SnapshotRow } from '../discover/zfs-list.js';
import type { Platform } from '../platform/platform.js';
import { HOLD_TAG } from '../plan/naming.js';
import type { Action } from '../plan/plan.js';
import { readPending } from './journal.js';
import { ownerAlive } from './lock.js';

export interface RecoverOptions {
  runner: Runner;
  reporter: Reporter;
  platform: Platform;
  mountRoot: string;
  journal: string;
  boot: string;
  /** Also look for our snapshots on every pool (after a reboot, or on demand). */
  scanSnapshots: boolean;
}

export interface RecoverResult {
  actions: number;
  failures: string[];
}

/** Errors that mean the thing to undo is already gone. */
const GONE = /not mounted|no mount point|not found|does not exist|could not find any snapshots|no such tag|ENOENT|no such file/i;

function ours(s: SnapshotRow, boot: string): boolean {
  if (!s.run || !s.owner) return false;
  const i = s.owner.lastIndexOf(':');
  const pid = Number(s.owner.slice(i + 1));
  return !ownerAlive({ boot: s.owner.slice(0, i), pid }, boot);
}

export async function recover(o: RecoverOptions): Promise<RecoverResult> {
  const { runner, reporter } = o;
  const failures: string[] = [];
  let actions = 0;
  const dry = runner.dryRun;

  const doAction = async (what: string, a: Action): Promise<void> => {
    actions++;
    if (dry) {
      reporter.print(`${display(a)}    # recover: ${what}`);
      return;
    }
    try {
      if (a.kind === 'exec') await runner.run(a.argv, { mutates: true });
      else if (a.kind === 'rmdir') rmdirSync(a.path);
      reporter.info(`recovered: ${what}`);
    } catch (e) {
      const msg = e instanceof CommandError ? e.stderr || e.message : (e as Error).message;
      if (GONE.test(msg)) return;
      failures.push(`${what}: ${msg.trim()}`);
      reporter.warn(`recovery could not ${what}: ${msg.trim()}`);
    }
  };

  // 1. The journal of a dead run, newest change first.
  for (const p of readPending(o.journal)) {
    await doAction(`${p.phase} left by run ${p.runId}`, p.action);
  }

  // 2. Mounts still under the mount root, deepest first.
  const mounts = (await o.platform.readMounts(runner))
    .map((m) => m.target)
    .filter((t) => t === o.mountRoot || t.startsWith(o.mountRoot + '/'))
    .sort((a, b) => b.length - a.length);
  for (const t of mounts) await doAction(`unmount ${t}`, { kind: 'exec', mutates: true, argv: o.platform.umountArgv(t) });

  // 3. Empty folders under the mount root (never the root itself: the user may own it).
  if (existsSync(o.mountRoot)) {
    const busy = dry ? new Set(mounts) : new Set<string>();
    for (const dir of emptyDirsBottomUp(o.mountRoot, busy)) await doAction(`remove folder ${dir}`, { kind: 'rmdir', path: dir });
  }

  // 4. Our snapshots whose run is gone: release our hold, then destroy.
  if (o.scanSnapshots) {
    const stale = parseSnapshotList((await runner.run(zfsListSnapshotsArgv())).stdout).filter((s) => ours(s, o.boot));
    for (const s of stale) {
      if (s.userrefs > 0) await doAction(`release hold on ${s.name}`, { kind: 'exec', mutates: true, argv: ['zfs', 'release', HOLD_TAG, s.name] });
      await doAction(`destroy ${s.name}`, { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', s.name] });
    }
  }
  return { actions, failures };
}

/** Folders that hold nothing but empty folders; `busy` ones (still mounted) count as full. */
function emptyDirsBottomUp(root: string, busy: Set<string>): string[] {
  const out: string[] = [];
  const walk = (dir: string): boolean => {
    let empty = true;
    for (const name of readdirSync(dir)) {
      const p = posix.join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory() && !busy.has(p) && walk(p)) out.push(p);
      else empty = false;
    }
    return empty;
  };
  walk(root);
  return out;
}

export function display(a: Action): string {
  if (a.kind === 'exec') return quoteArgv(a.argv);
  if (a.kind === 'mkdir') return quoteArgv(['mkdir', '-m', a.mode.toString(8).padStart(4, '0'), a.path]);
  return quoteArgv(['rmdir', a.path]);
}
