// Recovery: undo whatever an earlier run left behind (a crash, SIGKILL, a
// power cut), in order: unmount, rmdir, release holds, destroy. It only
// touches what it can prove is ours (see ownership.ts): mounts of snapshots
// of dead runs of this host under the mount root, folders the journal says a
// run created, and snapshots of dead runs of this host. A live run's mounts
// (another job whose mount root is inside ours) are never touched. What
// cannot be undone (a clone of our snapshot, another tool's hold, a read-only
// pool, a busy mount) is a leftover: reported, remembered, retried by
// `cleanup`, never fatal.
import { lstatSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Runner } from '../core/exec.js';
import { CommandError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import { retryWhileBusy } from '../core/retry.js';
import type { Reporter } from '../core/report.js';
import type { MountEntry } from '../zfs/mount-table.js';
import { creationTimes, existingSnapshots, parseOwned, zfsGetOwnedArgv, type OwnedSnapshot } from '../discover/snapshots.js';
import type { Platform } from '../platform/platform.js';
import { display } from '../plan/display.js';
import { HOLD_TAG, PREFIX } from '../zfs/naming.js';
import type { Action } from '../plan/types.js';
import { errorReason, type Leftover } from './drop-snapshots.js';
import { destroyExact, exactDestroyCommands, type Recorded, type RunIdentity } from './destroy-exact.js';
import type { SnapshotId } from '../zfs/destroy-program.js';
import { journaledSnapshotsElsewhere, knownLeftoversPath, markDone, readKnown, readPending, writeKnown, type KnownLeftover, type PendingUndo } from './journal.js';
import { ownerAlive } from './lock.js';
import { judge, staleRuns, type Verdict } from './ownership.js';
import { manualRemoval, proofProblem, readProofKey } from './proof.js';
import { checkRootPath } from './root-path.js';

export type { Leftover } from './drop-snapshots.js';

export interface RecoverOptions {
  runner: Runner;
  reporter: Reporter;
  platform: Platform;
  mountRoot: string;
  journal: string;
  boot: string;
  /** This host's id (platform.hostId()); read here when not given. */
  host?: string;
  /**
   * Where to look for a dead run's snapshots beyond this mount root's journal:
   * `journals`, the other mount roots' journals (no zfs process unless they
   * name some); `all`, every snapshot on every pool (when the journals are
   * not known to be a complete record, and for `cleanup`).
   */
  scan: 'journals' | 'all';
  /** `cleanup`: try known leftovers again. A run only reports them (default). */
  retryKnown?: boolean;
  /** Where known leftovers are remembered (default: beside the journal). */
  knownPath?: string;
  /**
   * The owner of a stale lock this run took over: proven dead by its start
   * time, so its snapshots are a dead run's even if its pid was reused since.
   */
  deadOwner?: { pid: number; boot: string } | null;
  /** Where this host's proof key is (default: the journal's directory). */
  keyDir?: string;
}

export interface RecoverResult {
  actions: number;
  /** What could not be undone: reported, not fatal. */
  leftovers: Leftover[];
}

/**
 * The mount root may be touched only when it is a real directory (not a
 * symlink) that root owns and only root can write, and so is every directory
 * above it (root-path.ts): otherwise another account could swap a directory on
 * the way and steer our unmounts and rmdirs elsewhere. Absent is fine: nothing
 * can be under it.
 */
export function mountRootProblem(root: string): string | null {
  return checkRootPath(root, { what: 'mount root', noFinalLink: true, directory: true }).problem;
}

export async function recover(o: RecoverOptions): Promise<RecoverResult> {
  const { runner, reporter, platform } = o;
  const dry = runner.dryRun;
  const knownPath = o.knownPath ?? knownLeftoversPath(dirname(o.journal), o.mountRoot);
  const known = readKnown(knownPath, o.boot);
  const found: KnownLeftover[] = []; // leftovers of this pass
  const tried = new Set<string>(); // snapshots handled in this pass: the scan does not try them twice
  let actions = 0;

  const leftover = (what: string, reason: string, extra: Partial<KnownLeftover> = {}) => {
    found.push({ what, reason, since: new Date().toISOString(), boot: o.boot, ...extra });
    reporter.warn(`left behind by an earlier run and cannot be removed now: ${what}: ${reason} (kopiatomic cleanup tries again)`);
    reporter.event('leftover', { what, reason });
  };
  const show = (what: string, a: Action) => {
    reporter.event('recover', { what, command: display(a), dryRun: dry });
    if (dry && !reporter.json) reporter.print(`${display(a)}    # recover: ${what}`);
  };
  const done = (what: string): true => {
    actions++;
    if (!dry) reporter.info(`recovered: ${what}`);
    return true;
  };
  const refuse = (what: string, reason: string, undo?: PendingUndo, extra: Partial<KnownLeftover> = {}): false => {
    leftover(what, reason, { undo, ...extra });
    return false;
  };

  // 0. The mount root is checked before anything under it is touched.
  const rootProblem = mountRootProblem(o.mountRoot);
  let table: MountEntry[] = await platform.readMounts(runner);
  let tableStale = false; // set by each unmount: the table is read again before it is next needed
  const fresh = async () => {
    if (tableStale && !dry) table = await platform.readMounts(runner);
    tableStale = false;
  };
  const under = () => table.filter((m) => isWithin(m.target, o.mountRoot));

  // Whose run each mounted snapshot belongs to: one `zfs get` of the
  // ownership properties for the sources not judged yet (none when there are
  // no mounts of ours), judged like the snapshots themselves.
  let hostId: string | undefined = o.host;
  const verdicts = new Map<string, { verdict: Verdict; why: string }>();
  const dead = o.deadOwner;
  const alive: typeof ownerAlive = (w, boot) => !(dead && w.pid === dead.pid && w.boot === dead.boot) && ownerAlive(w, boot);
  const judgeSources = async (sources: string[]): Promise<void> => {
    const todo = [...new Set(sources)].filter((s) => !verdicts.has(s));
    if (!todo.length) return;
    let owned: OwnedSnapshot[];
    try {
      owned = parseOwned((await runner.run(zfsGetOwnedArgv(todo), { okCodes: [1] })).stdout);
      hostId ??= await platform.hostId(runner);
    } catch (e) {
      for (const s of todo) verdicts.set(s, { verdict: 'foreign', why: `its owner could not be read (${errorReason(e)})` });
      return;
    }
    const me = { host: hostId, boot: o.boot };
    for (const s of todo) {
      const at = s.indexOf('@');
      const facts = owned.find((x) => x.name === s) ?? { name: s, dataset: s.slice(0, at), snapshot: s.slice(at + 1), run: null, owner: null };
      verdicts.set(s, judge(facts, me, alive));
    }
  };
  /** A mount is ours to unmount only when its snapshot's run is proven dead; a live run's is left alone, silently. */
  const deadRunsMount = async (source: string, target: string, what: string, undo?: PendingUndo): Promise<boolean> => {
    await judgeSources([source]);
    const v = verdicts.get(source)!;
    if (v.verdict === 'stale') return true;
    if (v.verdict === 'live') reporter.verbose(`leaving ${target} alone: ${source} belongs to a live run (${v.why})`);
    else leftover(what, `${source} is not proven to be a dead run's: ${v.why}`, { undo, mount: target });
    return false;
  };

  const unmount = async (target: string, what: string, undo?: PendingUndo): Promise<boolean> => {
    const mount = { mount: target }; // a reboot unmounts it: known only until then
    if (rootProblem) return refuse(what, `${rootProblem}: nothing under it is touched`, undo, mount);
    // umount takes the topmost mount at the target: that one must be a dead run's snapshot.
    const top = [...table].reverse().find((m) => m.target === target);
    if (top && !platform.isOurSnapshotMount(top)) return refuse(what, `${top.source} is mounted over it, which is not ours`, undo, mount);
    if (top && !(await deadRunsMount(top.source, target, what, undo))) return false;
    const a: Action = { kind: 'exec', mutates: true, argv: platform.umountArgv(target) };
    show(what, a);
    if (dry) {
      table = table.filter((m) => m.target !== target); // as if it were unmounted, for what follows
      return done(what);
    }
    tableStale = true;
    try {
      await retryWhileBusy(() => runner.run(a.argv, { mutates: true }), 4, 250);
      return done(what);
    } catch (e) {
      await fresh();
      if (!table.some((m) => m.target === target)) return done(what); // gone meanwhile
      return refuse(what, errorReason(e), undo, mount);
    }
  };

  /** Removes a folder the journal says a run created, if it is still an empty real folder with nothing mounted on or below it. */
  const removeFolder = async (dir: string, what: string, undo?: PendingUndo): Promise<boolean> => {
    if (!isWithin(dir, o.mountRoot)) return true; // never outside the mount root, whatever a journal says
    if (rootProblem) return refuse(what, `${rootProblem}: nothing under it is touched`, undo);
    await fresh();
    if (under().some((m) => isWithin(m.target, dir))) return refuse(what, 'something is still mounted on or below it', undo);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      return true; // already gone
    }
    if (!st.isDirectory()) return true; // not the folder we made any more: not ours to remove
    show(what, { kind: 'rmdir', path: dir });
    if (dry) return done(what);
    try {
      rmdirSync(dir);
      return done(what);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      return refuse(what, code === 'ENOTEMPTY' || code === 'EEXIST' ? 'it is not empty (something was put in it)' : (e as Error).message, undo);
    }
  };

  /** Releases and destroys exactly these snapshots of one run, each found by its identity and proven ours (destroy-exact.ts). */
  const drop = async (recs: Recorded[], me: RunIdentity, what: string, undo?: PendingUndo): Promise<boolean> => {
    const names = recs.map((r) => r.name);
    for (const n of names) tried.add(n);
    if (dry) {
      reporter.event('recover', { what, command: exactDestroyCommands({ pool: names[0]!.split(/[/@]/)[0]!, snapshots: names }).join('\n'), dryRun: dry });
      if (!reporter.json) for (const c of exactDestroyCommands({ pool: names[0]!.split(/[/@]/)[0]!, snapshots: names })) reporter.print(`${c}    # recover: ${what}`);
      return done(what);
    }
    reporter.event('recover', { what, command: `exact destroy of ${names.length} snapshot(s)`, dryRun: dry });
    try {
      const r = await destroyExact(runner, recs, me);
      if (r.dropped) done(`${what} (${r.dropped} snapshot(s))`);
      for (const l of r.leftovers) leftover(l.what, l.reason, { snapshots: [l.what.replace(/^snapshot /, '')], undo });
      return r.leftovers.length === 0;
    } catch (e) {
      leftover(what, errorReason(e), { snapshots: names, undo });
      return false;
    }
  };

  /** A journal entry's snapshots with the identity recorded for them, and the run they must be proven of. */
  const recorded = (p: PendingUndo, names: string[]): { recs: Recorded[]; me: RunIdentity } => {
    const d = p.detail ?? {};
    const ids = (d['ids'] && typeof d['ids'] === 'object' ? d['ids'] : {}) as Record<string, SnapshotId>;
    const run = typeof d['run'] === 'string' ? d['run'] : p.runId;
    return { recs: names.map((name) => ({ name, id: ids[name] ?? null })), me: { run, owner: typeof d['owner'] === 'string' ? d['owner'] : null } };
  };

  /** One journal entry (or a known leftover's undo); true when nothing of it is left. */
  const undoEntry = async (p: PendingUndo, hasDestroy: boolean): Promise<boolean> => {
    const a = p.action;
    const d = p.detail ?? {};
    const what = `${p.phase} left by run ${p.runId}`;
    if (p.phase === 'umount' && a.kind === 'exec') {
      const target = typeof d['target'] === 'string' ? d['target'] : a.argv[a.argv.length - 1]!;
      const source = typeof d['source'] === 'string' ? d['source'] : null;
      await fresh();
      // Only a mount that is there, of our snapshot, is unmounted.
      const m = table.find((e) => e.target === target && (source ? e.source === source : platform.isOurSnapshotMount(e)));
      if (!m) return true;
      return unmount(target, `unmount ${target} (${what})`, p);
    }
    if (p.phase === 'rmdir' && a.kind === 'rmdir') return removeFolder(a.path, `remove directory ${a.path} (${what})`, p);
    const names = Array.isArray(d['snapshots']) ? (d['snapshots'] as string[]) : null;
    if (p.phase === 'release' && names) {
      if (hasDestroy) return true; // the destroy entry of the same run releases first
      const r = recorded(p, names);
      return drop(r.recs, r.me, `release and destroy ${names.length} snapshot(s) (${what})`, p);
    }
    if (p.phase === 'destroy' && names) {
      // Never by `-r` (an older journal's destroy roots are ignored): exactly the snapshots recorded.
      const r = recorded(p, names);
      return drop(r.recs, r.me, `destroy ${names.length} snapshot(s) (${what})`, p);
    }
    // An entry without details (an older journal): run its undo; "not found" means already gone.
    if (a.kind === 'rmdir') return removeFolder(a.path, what, p);
    show(what, a);
    if (dry) return done(what);
    try {
      if (a.kind === 'exec') await runner.run(a.argv, { mutates: true });
      return done(what);
    } catch (e) {
      if (e instanceof CommandError && e.reason === 'not-found') return true; // only "not found" means already gone
      return refuse(what, errorReason(e), p);
    }
  };

  // 1. The journal of a dead run, newest change first. An entry is marked done
  // when it is undone or turns into a known leftover, so the journal can go.
  const pending = readPending(o.journal);
  // Every mount of ours that steps 1 and 3 may consider, judged in one `zfs get`.
  const journaled = new Set(pending.filter((p) => p.phase === 'umount').map((p) => String(p.detail?.['target'] ?? '')));
  await judgeSources(table.filter((m) => platform.isOurSnapshotMount(m) && (isWithin(m.target, o.mountRoot) || journaled.has(m.target))).map((m) => m.source));
  const destroyRuns = new Set(pending.filter((p) => p.phase === 'destroy' && p.detail?.['snapshots']).map((p) => p.runId));
  for (const p of pending) {
    await undoEntry(p, destroyRuns.has(p.runId));
    if (!dry) markDone(o.journal, p);
  }

  // 2. Known leftovers: `cleanup` tries them again; a run only reports them.
  const keep: KnownLeftover[] = [];
  for (const k of known) {
    if (o.retryKnown && k.undo) {
      await undoEntry(k.undo, false);
      continue;
    }
    if (o.retryKnown && k.snapshots) continue; // the scan below finds them again
    if (o.retryKnown) continue;
    keep.push(k);
    reporter.warn(`known leftover of an earlier run: ${k.what}: ${k.reason} (since ${k.since}; kopiatomic cleanup tries again)`);
    reporter.event('leftover', { what: k.what, reason: k.reason, known: true, since: k.since });
  }

  // 3. Our snapshot mounts still under the mount root, deepest first (a dead
  // run whose journal was lost). Other mounts there, bind mounts of
  // sub-folders included, are not ours: they are left alone and never walked
  // into; so are the mounts of a live run (unmount() asks).
  await fresh();
  const ours = under()
    .filter((m) => platform.isOurSnapshotMount(m))
    .map((m) => m.target)
    .sort((a, b) => b.length - a.length);
  for (const t of ours) await unmount(t, `unmount ${t}`);

  // 4. Snapshots of dead runs of this host made for other mount roots (their
  // journals name them), or, when the journals are not a complete record,
  // on every pool: one `zfs get` lists the candidates with their property
  // sources; known leftovers are not tried again except by `cleanup`.
  const skip = new Set(o.retryKnown ? [] : keep.flatMap((k) => k.snapshots ?? []));
  let candidates: string[] | null = null; // null: every snapshot
  if (o.scan === 'journals') {
    const named = journaledSnapshotsElsewhere(dirname(o.journal), o.journal).filter((n) => !skip.has(n) && !tried.has(n));
    candidates = await existingSnapshots(runner, named);
  }
  if (candidates === null || candidates.length) {
    const host = (hostId ??= await platform.hostId(runner));
    const owned = parseOwned((await runner.run(zfsGetOwnedArgv(candidates ?? [], true))).stdout);
    const runs = staleRuns(owned, { host, boot: o.boot }, alive);
    // Found in every pool, their local properties are not enough: anyone
    // with `zfs allow ... snapshot,userprop` can set them. Only a snapshot
    // whose proof verifies (made with this host's key while its run was
    // running) is destroyed then. (Names from our journals were recorded by us.)
    const todo = [...runs.values()].flat().filter((n) => !skip.has(n) && !tried.has(n));
    const unproven = candidates === null ? await unprovenSnapshots(runner, owned.filter((s) => todo.includes(s.name)), o.keyDir ?? dirname(o.journal)) : new Map<string, string>();
    for (const [name, why] of unproven) {
      tried.add(name);
      leftover(`snapshot ${name}`, `not proven made by kopiatomic on this host: ${why}; left alone. If it is a leftover of ours, remove it with: ${manualRemoval(name)}`, { snapshots: [name] });
    }
    for (const [snap, names] of runs) {
      const proven = names.filter((n) => todo.includes(n) && !unproven.has(n));
      const owner = owned.find((s) => s.name === proven[0])?.owner ?? null;
      // Found by their local properties (so wherever a rename took them), each proven again before it goes.
      const me = { run: snap.slice(PREFIX.length + 1), owner: proven.every((n) => owned.find((s) => s.name === n)?.owner === owner) ? owner : null };
      if (proven.length) await drop(proven.map((name) => ({ name, id: null })), me, `release ${HOLD_TAG} holds on and destroy ${proven.length} snapshot(s) @${snap} of a dead run`);
    }
  }

  if (!dry) writeKnown(knownPath, [...keep, ...found]);
  return { actions, leftovers: [...keep, ...found].map((k) => ({ what: k.what, reason: k.reason })) };
}

/** The scan's candidates whose proof does not verify, with why: one `zfs list` of their creation times when there are any. */
async function unprovenSnapshots(runner: Runner, list: OwnedSnapshot[], keyDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!list.length) return out;
  const { key, problem } = readProofKey(keyDir);
  const made = await creationTimes(runner, list.filter((s) => s.proof != null).map((s) => s.name));
  for (const s of list) {
    const why = proofProblem(key, { name: s.name, run: s.run!, owner: s.owner!, proof: s.proof ?? null, creation: made.get(s.name) ?? null });
    if (why) out.set(s.name, problem && s.proof != null ? `${why} (${problem})` : why);
  }
  return out;
}
