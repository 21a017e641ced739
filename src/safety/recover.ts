// Recovery: undo whatever an earlier run left behind (a crash, SIGKILL, a
// power cut), in order: unmount, rmdir, release holds, destroy. It only ever
// touches snapshots that carry our run property and whose run is not alive.
import { existsSync, readdirSync, rmdirSync, lstatSync } from 'node:fs';
import { posix } from 'node:path';
import type { Runner } from '../core/exec.js';
import { CommandError } from '../core/errors.js';
import { retryWhileBusy } from '../core/retry.js';
import type { Reporter } from '../core/report.js';
import { parseSnapshotList, zfsListSnapshotsArgv, type SnapshotRow } from '../discover/zfs-list.js';
import type { Platform } from '../platform/platform.js';
import { HOLD_TAG, PREFIX, snapshotNameFor } from '../plan/naming.js';
import type { Action } from '../plan/plan.js';
import { display } from '../plan/display.js';
import { markDone, readPending } from './journal.js';
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

/**
 * A snapshot is ours to destroy only if it carries our run property, set by
 * us (its name is the one we derive from that run id, so a user snapshot
 * that merely inherits the property does not qualify), and the run that
 * made it (owner "bootid:pid") is not alive. Anything else is left alone.
 */
export function staleOurs(s: SnapshotRow, boot: string): boolean {
  if (!s.run || !s.owner || s.snapshot !== snapshotNameFor(s.run)) return false;
  const m = /^([^:]+):(\d+)$/.exec(s.owner);
  if (!m) return false;
  return !ownerAlive({ boot: m[1]!, pid: Number(m[2]) }, boot);
}

export async function recover(o: RecoverOptions): Promise<RecoverResult> {
  const { runner, reporter } = o;
  const failures: string[] = [];
  let actions = 0;
  const dry = runner.dryRun;

  /** Undo one thing; true if it is undone (or was already gone). */
  const doAction = async (what: string, a: Action): Promise<boolean> => {
    reporter.event('recover', { what, command: display(a), dryRun: dry });
    if (dry) {
      actions++;
      if (!reporter.json) reporter.print(`${display(a)}    # recover: ${what}`);
      return false;
    }
    try {
      const unmount = a.kind === 'exec' && a.argv[0] === o.platform.umountArgv(o.mountRoot)[0];
      const undo = async () => {
        if (a.kind === 'exec') await runner.run(a.argv, { mutates: true });
        else if (a.kind === 'rmdir') rmdirSync(a.path);
      };
      // A mount can stay busy for a moment after its last user exits.
      await (unmount ? retryWhileBusy(undo, 4, 250) : undo());
      actions++;
      reporter.info(`recovered: ${what}`);
      return true;
    } catch (e) {
      const msg = e instanceof CommandError ? e.stderr || e.message : (e as Error).message;
      // Typed at the door: a missing zfs/umount is never "already gone".
      if (e instanceof CommandError ? e.reason === 'not-found' : GONE.test(msg)) return true;
      failures.push(`${what}: ${msg.trim()}`);
      reporter.warn(`recovery could not ${what}: ${msg.trim()}`);
      return false;
    }
  };

  // 1. The journal of a dead run, newest change first; each undo is marked done.
  for (const p of readPending(o.journal)) {
    if (await doAction(`${p.phase} left by run ${p.runId}`, p.action)) markDone(o.journal, p);
  }

  // 2. Our snapshot mounts still under the mount root, deepest first. Other
  // mounts there are not ours: they are left alone, and never walked into.
  const under = async () => (await o.platform.readMounts(runner)).filter((m) => m.target === o.mountRoot || m.target.startsWith(o.mountRoot + '/'));
  const before = await under();
  const mounts = before
    .filter((m) => m.source.includes(`@${PREFIX}-`))
    .map((m) => m.target)
    .sort((a, b) => b.length - a.length);
  for (const t of mounts) await doAction(`unmount ${t}`, { kind: 'exec', mutates: true, argv: o.platform.umountArgv(t) });

  // 3. Empty folders under the mount root (never the root itself: the user may own it).
  const busy = new Set((dry ? before : await under()).map((m) => m.target));
  if (existsSync(o.mountRoot) && !busy.has(o.mountRoot)) {
    for (const dir of emptyDirsBottomUp(o.mountRoot, busy)) await doAction(`remove folder ${dir}`, { kind: 'rmdir', path: dir });
  }

  // 4. Our snapshots whose run is gone: release our hold, then destroy.
  if (o.scanSnapshots) {
    const stale = parseSnapshotList((await runner.run(zfsListSnapshotsArgv())).stdout).filter((s) => staleOurs(s, o.boot));
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
