// The executor driven with a fake runner: a setup failure at each step leaves
// exactly the undo of what happened; cleanup runs in order; a destroy is
// checked with one zfs list; a folder someone else made is never removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError } from '../../src/core/errors.js';
import type { ExecResult, RunOptions } from '../../src/core/exec.js';
import { IDENTITY_PROGRAM, IDENTITY_PROGRAM_CAREFUL } from '../../src/zfs/identity-program.js';
import type { MountEntry } from '../../src/zfs/mount-table.js';
import { commandEngine } from '../../src/engine/command.js';
import { applyPlan } from '../../src/execute/apply.js';
import type { ApplyContext } from '../../src/execute/context.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { runStatus } from '../../src/core/exit-status.js';
import { linux } from '../../src/platform/linux.js';
import type { Platform } from '../../src/platform/platform.js';
import { buildPlan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { Journal, readPending } from '../../src/safety/journal.js';
import { commandText, ds, FakeRunner, identityAnswer, identityNames, mountPairs, quietReporter, unmountTargets } from './helpers.js';

const SNAP = 'kopiatomic-R1';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });


function tmp(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-apply-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function makePlan(root: string, rootExists = false, stateDir = root.split('/').slice(0, 3).join('/') + '/state'): Plan {
  mkdirSync(stateDir, { recursive: true });
  return buildPlan({
    selection: { selected: [ds('t', '/t'), ds('t/a', '/t/a')], skipped: [] },
    runId: 'R1',
    snapshot: SNAP,
    owner: 'h:b:1',
    mountRoot: root,
    mountRootExists: rootExists,
    platform: linux,
    engine: commandEngine,
    probe: {},
    stateDir,
    layout: 'tree',
    command: ['true'],
    options: [],
  });
}

/**
 * A system: zfs snapshots, holds and mounts, as OpenZFS answers. `failAt`
 * makes the first command starting with that text fail (after doing
 * `partly` of it, e.g. a mount that happened although mount failed).
 */
function system(o: { failAt?: string; partly?: boolean; lie?: boolean; mute?: boolean } = {}) {
  // Each snapshot with its identity and its local properties (none on a received copy).
  const snaps = new Map<string, { guid: string; txg: string; run?: string; owner?: string }>();
  const held = new Set<string>();
  let mounts: MountEntry[] = [];
  let failed = false;
  let muted = false;
  let guids = 0;
  const clones = new Set<string>();
  const rows = (names: Iterable<string>) => [...names].filter((n) => snaps.has(n)).map((n) => `${n}\t${snaps.get(n)!.guid}\t${snaps.get(n)!.txg}\n`).join('');
  const listed = (names: string[], out: string) => ({ code: names.every((n) => snaps.has(n)) ? 0 : 1, stdout: out, stderr: '' });
  const answer = (argv: readonly string[], opts?: RunOptions): ExecResult | Error => {
    const a = argv.join(' ');
    const failing = o.failAt && !failed && a.startsWith(o.failAt);
    if (failing) failed = true;
    if (failing && argv[1] === 'list') return new CommandError(argv, 1, null, "cannot open 't': pool I/O is currently suspended", 'failed');
    if (argv[1] === 'snapshot') {
      if (failing) return new CommandError(argv, 1, null, "cannot open 't/a': dataset does not exist", 'not-found');
      const prop = (k: string) => argv.find((w) => w.startsWith(`${k}=`))?.slice(k.length + 1);
      // One guid above 2^63: Lua sees it negative.
      for (const n of argv.filter((w) => w.includes('@'))) snaps.set(n, { guid: String(18446744073709551000n + BigInt(guids++)), txg: '77', run: prop('kopiatomic:run')!, owner: prop('kopiatomic:owner')! });
      return ok();
    }
    if (argv[1] === 'hold') {
      if (failing) return new CommandError(argv, 1, null, 'hold failed', 'failed');
      for (const n of snaps.keys()) if (n.endsWith(`@${SNAP}`) && snaps.get(n)!.run) held.add(n);
      return ok();
    }
    const asked = identityNames(argv);
    if (asked) {
      if (failing) return new CommandError(argv, 1, null, 'Channel program execution failed', 'failed');
      // The quick program stops at a name that is not there (zfs.get_prop raises); the careful one leaves it out.
      const missing = asked.find((n) => !snaps.has(n));
      if (opts?.input === IDENTITY_PROGRAM && missing) return new CommandError(argv, 1, null, `Channel program execution failed:\n[string "channel program"]:6: bad argument #1 to 'get_prop' (dataset '${missing}' does not exist)`, 'not-found');
      if (opts?.input !== IDENTITY_PROGRAM && opts?.input !== IDENTITY_PROGRAM_CAREFUL) return new Error('not the identity program');
      return ok(identityAnswer(asked.filter((n) => snaps.has(n)).map((n) => [n, snaps.get(n)!.guid, snaps.get(n)!.txg])));
    }
    if (a.startsWith('zfs list -H -p -t snapshot -o name,guid,createtxg -r ')) return ok(rows([...snaps.keys()].filter((n) => n.startsWith(`${argv[9]}/`) || n.startsWith(`${argv[9]}@`))));
    if (a.startsWith('zfs list -H -p -t snapshot -o name,guid,createtxg')) return listed(argv.slice(8), rows(argv.slice(8)));
    if (a.startsWith('zfs list -H -o name -t snapshot ')) return listed(argv.slice(7), argv.slice(7).filter((n) => snaps.has(n)).map((n) => n + '\n').join(''));
    if (a.startsWith('zfs get -H -p -o name,property,value,source -s local -t snapshot kopiatomic:run,kopiatomic:owner')) {
      const names = argv.slice(11).filter((n) => snaps.has(n) && snaps.get(n)!.run);
      return listed(argv.slice(11), names.map((n) => `${n}\tkopiatomic:run\t${snaps.get(n)!.run}\tlocal\n${n}\tkopiatomic:owner\t${snaps.get(n)!.owner}\tlocal\n`).join(''));
    }
    if (a.startsWith('zfs holds -H')) return ok(argv.slice(3).filter((n) => held.has(n)).map((n) => `${n}\tkopiatomic\tnow\n`).join(''));
    if (argv[1] === 'release') {
      // -r ROOT@SNAP: our tag on every snapshot of that name at or below ROOT (libzfs zfs_release_one).
      const [root, snap] = argv.at(-1)!.split('@') as [string, string];
      const names = argv[2] === '-r' ? [...held].filter((n) => n.endsWith(`@${snap}`) && (n.startsWith(`${root}@`) || n.startsWith(`${root}/`))) : argv.slice(3).filter((n) => held.has(n));
      if (!names.length) return new CommandError(argv, 1, null, 'no such tag on this dataset', 'failed');
      for (const n of names) held.delete(n);
      return ok();
    }
    if (argv[1] === 'program') {
      // The destroy's channel program: all or none; each name must be the snapshot recorded, ours, and not held.
      if (failing) return new CommandError(argv, 1, null, 'Channel program execution failed', 'failed');
      // zfs program's getopt takes a word that starts with "-" (a lone "-" aside) for an option.
      const args = argv.slice(argv.indexOf('-') + 1);
      if (args.some((w) => w.startsWith('-'))) return new CommandError(argv, 2, null, "invalid option '2'", 'failed');
      const [run, owner, ...rest] = args;
      const names: string[] = [];
      for (let i = 0; i < rest.length; i += 3) {
        const [n, guid, txg] = rest.slice(i, i + 3) as [string, string, string];
        const s = snaps.get(n);
        if (!s || (guid !== '-' && `g${BigInt.asIntN(64, BigInt(s.guid))}` !== guid) || (txg !== '-' && s.txg !== txg) || s.run !== run || s.owner !== owner || held.has(n) || clones.has(n)) {
          return new CommandError(argv, 1, null, `Channel program execution failed: ${n}`, 'failed');
        }
        names.push(n);
      }
      // Its last loop looks each name up again: one still there fails it.
      if (o.lie) return new CommandError(argv, 1, null, `Channel program execution failed:\n[string "channel program"]:31: ${names[0]}: still there after its destroy reported success`, 'failed');
      // An empty or cut script: exit 0, nothing done, no answer.
      if (o.mute && !muted) {
        muted = true;
        return ok();
      }
      for (const n of names) snaps.delete(n);
      return ok(JSON.stringify({ return: { destroyed: names.length } }));
    }
    if (argv[1] === 'destroy') {
      const n = argv[2]!;
      if (argv.includes('-r')) return new Error('never a recursive destroy');
      if (held.has(n) || clones.has(n)) return new CommandError(argv, 1, null, 'dataset is busy', 'failed');
      if (!snaps.has(n)) return new CommandError(argv, 1, null, 'could not find any snapshots to destroy; check snapshot names.', 'not-found');
      if (!o.lie) snaps.delete(n);
      return ok();
    }
    const pairs = mountPairs(argv);
    if (pairs) {
      // One process mounts every pair; each is matched against failAt as the
      // single mount command it stands for.
      for (const [source, target] of pairs) {
        const one = `mount -t zfs -o ro ${source} ${target}`;
        const fail = o.failAt && !failed && one.startsWith(o.failAt);
        if (fail) failed = true;
        if (fail && !o.partly) return new CommandError(argv, 32, null, 'directory is not empty', 'failed');
        mounts.push({ source, target, fstype: 'zfs', root: '/' });
        // What the snapshot holds: the mount points of the datasets below it.
        if (target.endsWith('/t')) mkdirSync(`${target}/a`, { recursive: true });
        if (fail) return new CommandError(argv, 32, null, 'mount reported a failure', 'failed');
      }
      return ok();
    }
    const targets = unmountTargets(argv);
    if (targets) {
      mounts = mounts.filter((m) => !targets.includes(m.target));
      for (const t of targets) if (t.endsWith('/t')) rmSync(`${t}/a`, { recursive: true, force: true });
      return ok();
    }
    return new Error(`unexpected: ${a}`);
  };
  /** A dataset renamed (with its snapshots); a snapshot cloned (it cannot be destroyed). */
  const rename = (from: string, to: string) => {
    for (const [n, v] of [...snaps]) if (n.startsWith(`${from}@`)) {
      snaps.delete(n);
      snaps.set(to + n.slice(from.length), v);
      if (held.delete(n)) held.add(to + n.slice(from.length));
    }
  };
  return { answer, snaps, held, clones, rename, mounts: () => mounts };
}

type Answer = ReturnType<typeof system>['answer'];

/** The fake system, a runner on it (through `wrap`, e.g. to slow commands down), and the executor's context with a journal in dir. */
function rig(dir: string, o: Parameters<typeof system>[0] = {}, wrap: (answer: Answer) => ConstructorParameters<typeof FakeRunner>[0] = (a) => a) {
  const sys = system(o);
  /** The engine: how often it ran, and what happens on the system while it runs. */
  const engine = { runs: 0, during: () => {} };
  const runner = new FakeRunner(wrap(sys.answer), () => {
    engine.runs++;
    engine.during();
    return 0;
  });
  const { reporter } = quietReporter();
  const platform: Platform = { ...linux, readMounts: async () => sys.mounts() };
  const journal = new Journal(`${dir}/j.journal`, 'R1');
  const ctx: ApplyContext = { runner, reporter, interrupt: new Interrupt(reporter), journal, env: {}, platform };
  return { sys, runner, engine, ctx, journal };
}

/** The commands run to completion (not the engine), as text. */
const calls = (r: FakeRunner) => r.calls.filter((c) => !c.live).map((c) => commandText(c.argv));

test('applyPlan: a clean run; cleanup is the release beside the umount (children first), rmdir (deepest first), then the destroy program, which checks itself (no zfs list after it)', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const { runner, engine, ctx, journal } = rig(dir);
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.equal(r.setupError, null);
  assert.deepEqual(r.cleanupFailures, []);
  assert.equal(engine.runs, 1);
  assert.deepEqual(runStatus(r, null).status, 'ok');
  assert.deepEqual(calls(runner).slice(3), [
    `mount2 t@${SNAP} ${root}/t`,
    `mount2 t/a@${SNAP} ${root}/t/a`,
    `zfs release -r kopiatomic t@${SNAP}`,
    `umount2 ${root}/t/a ${root}/t`,
    // each snapshot with the identity the listing after the snapshot recorded (the guid in Lua's signed form, after a g: never an option)
    `zfs program -j t - R1 h:b:1 t@${SNAP} g-616 77 t/a@${SNAP} g-615 77`,
  ]);
  assert.equal(existsSync(root), false);
  assert.deepEqual(readPending(`${dir}/j.journal`), [], 'every journal entry is done');
});

test('applyPlan: the release runs while the unmount runs (started just before it, the longer of the two at a few hundred snapshots), and the destroy starts only when both are done', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const log: string[] = [];
  // release and umount take a while, so they overlap if they are started together
  const { sys, ctx, journal } = rig(dir, {}, (answer) => async (argv, opts) => {
    const name = unmountTargets(argv) ? 'umount' : `zfs ${argv[1]}`;
    log.push(`start ${name}`);
    if (name === 'umount' || name === 'zfs release') await new Promise((r) => setTimeout(r, name === 'umount' ? 30 : 60));
    log.push(`end ${name}`);
    return answer(argv, opts);
  });
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.deepEqual(r.cleanupFailures, []);
  const teardown = log.slice(log.indexOf('start zfs release'));
  assert.deepEqual(teardown.slice(0, 5), ['start zfs release', 'start umount', 'end umount', 'end zfs release', 'start zfs program']);
  assert.equal(sys.snaps.size, 0, 'destroyed (the fake refuses a destroy while a hold remains)');
});

test('applyPlan: a failed `zfs snapshot` leaves nothing and nothing to undo: setup-failed (4), not cleanup-incomplete', async (t) => {
  const dir = tmp(t);
  const { runner, engine, ctx, journal } = rig(dir, { failAt: 'zfs snapshot' });
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(false);
  assert.ok(r.setupError);
  assert.deepEqual(r.cleanupFailures, []);
  assert.deepEqual(runStatus(r, null), { status: 'setup-failed', code: 4 });
  assert.deepEqual(calls(runner).slice(1), [`zfs list -H -o name -t snapshot t@${SNAP} t/a@${SNAP}`], 'one check, no destroy');
  assert.deepEqual(readPending(`${dir}/j.journal`), []);
  assert.equal(engine.runs, 0);
});

test('applyPlan: a failed hold (it runs beside the mounts): setup stops, no release (nothing held), what was mounted is unmounted, the snapshots are destroyed by the program, which checks itself', async (t) => {
  const dir = tmp(t);
  const { sys, runner, engine, ctx, journal } = rig(dir, { failAt: 'zfs hold' });
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(false);
  assert.deepEqual(runStatus(r, null), { status: 'setup-failed', code: 4 });
  assert.match(String(r.setupError?.message), /hold failed/);
  assert.equal(engine.runs, 0);
  const c = calls(runner);
  assert.ok(c.includes(`zfs holds -H t@${SNAP} t/a@${SNAP}`), 'what the failed hold did is checked');
  assert.ok(!c.some((x) => x.startsWith('zfs release')), 'nothing held, nothing released');
  assert.ok(c.filter((x) => x.startsWith('mount ')).length < 2, 'setup stopped before the second mount level');
  assert.match(c.at(-1)!, new RegExp(`^zfs program -j t - R1 h:b:1 t@${SNAP} \\S+ \\S+ t/a@${SNAP} \\S+ \\S+$`));
  assert.deepEqual(sys.mounts(), []);
  assert.equal(sys.snaps.size, 0);
  assert.deepEqual(readPending(`${dir}/j.journal`), [], 'every journal entry is done');
});

test('applyPlan: a snapshot destroyed by someone before its identity is read: setup fails (4), the identity read is journaled, the rest is destroyed by identity', async (t) => {
  const dir = tmp(t);
  const { sys, runner, engine, ctx, journal } = rig(dir, {}, (answer) => (argv, opts) => {
    if (argv[1] === 'program' && argv[2] === '-n') sys.snaps.delete(`t/a@${SNAP}`);
    return answer(argv, opts);
  });
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  assert.match(String(r.setupError?.message), new RegExp(`snapshot t/a@${SNAP} is not there right after it was made`));
  assert.deepEqual(
    runner.calls.filter((c) => identityNames(c.argv)).map((c) => c.opts?.input),
    [IDENTITY_PROGRAM, IDENTITY_PROGRAM_CAREFUL],
    'the quick program stopped at the missing name, the careful one read the rest',
  );
  assert.deepEqual(runStatus(r, null).code, 4);
  assert.equal(engine.runs, 0);
  assert.equal(sys.snaps.size, 0, 'ours destroyed');
  assert.deepEqual(r.ids, { [`t@${SNAP}`]: { guid: '18446744073709551000', txg: '77' } });
  assert.ok(!calls(runner).some((x) => x.includes('destroy -r')));
  journal.close(false);
});

test('applyPlan: when the destroy\'s channel program fails, the exact destroy runs (found by identity, proven ours, by exact names), never `zfs destroy -r`', async (t) => {
  const dir = tmp(t);
  const { sys, runner, ctx, journal } = rig(dir, { failAt: 'zfs program -j t - ' });
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(false);
  assert.deepEqual(r.cleanupFailures, []);
  assert.deepEqual(runStatus(r, null), { status: 'ok', code: 0 });
  const c = calls(runner);
  assert.deepEqual(c.slice(c.indexOf(`zfs program -j t - R1 h:b:1 t@${SNAP} g-616 77 t/a@${SNAP} g-615 77`)), [
    `zfs program -j t - R1 h:b:1 t@${SNAP} g-616 77 t/a@${SNAP} g-615 77`,
    `zfs list -H -p -t snapshot -o name,guid,createtxg t@${SNAP} t/a@${SNAP}`,
    `zfs get -H -p -o name,property,value,source -s local -t snapshot kopiatomic:run,kopiatomic:owner t@${SNAP} t/a@${SNAP}`,
    `zfs holds -H t@${SNAP} t/a@${SNAP}`,
    `zfs program -j t - R1 h:b:1 t@${SNAP} g-616 77 t/a@${SNAP} g-615 77`,
    `zfs list -H -p -t snapshot -o name,guid,createtxg t@${SNAP} t/a@${SNAP}`, // the exact destroy's own check
  ]);
  assert.equal(sys.snaps.size, 0);
  assert.deepEqual(readPending(`${dir}/j.journal`), [], 'every journal entry is done');
});

test('applyPlan: a dataset renamed during the backup: its snapshot is found by guid, released and destroyed under its new name; a copy received under our name stays', async (t) => {
  const dir = tmp(t);
  const { sys, runner, engine, ctx, journal } = rig(dir);
  const plan = makePlan(`${dir}/root`);
  // The "engine" renames t/a to t/moved, and receives a copy of t@SNAP into t/backup (same guid, later txg, no property).
  engine.during = () => {
    sys.rename('t/a', 't/moved');
    sys.snaps.set(`t/backup@${SNAP}`, { guid: sys.snaps.get(`t@${SNAP}`)!.guid, txg: '90' });
  };
  const r = await applyPlan(plan, ctx);
  journal.close(false);
  assert.deepEqual(r.cleanupFailures, []);
  assert.deepEqual([...sys.snaps.keys()], [`t/backup@${SNAP}`], 'ours gone under the new name; the copy stays');
  assert.deepEqual([...sys.held], [], 'no hold of ours remains');
  assert.ok(!calls(runner).some((x) => x.includes('destroy -r')));
  assert.deepEqual(readPending(`${dir}/j.journal`), []);
});

test('applyPlan: a renamed snapshot that cannot be destroyed (a clone) is a leftover: cleanup-incomplete (5), the journal keeps its identity for recovery', async (t) => {
  const dir = tmp(t);
  const { sys, engine, ctx, journal } = rig(dir);
  engine.during = () => {
    sys.rename('t/a', 't/moved');
    sys.clones.add(`t/moved@${SNAP}`);
  };
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(r.cleanupFailures.length === 0);
  assert.deepEqual(r.cleanupFailures, [`snapshot t/moved@${SNAP}: dataset is busy`]);
  assert.deepEqual(runStatus(r, null), { status: 'cleanup-incomplete', code: 5 });
  assert.deepEqual([...sys.snaps.keys()], [`t/moved@${SNAP}`]);
  assert.deepEqual([...sys.held], [], 'our hold released by its exact (new) name');
  const pending = readPending(`${dir}/j.journal`);
  assert.deepEqual(pending.map((p) => p.phase), ['destroy']);
  assert.deepEqual((pending[0]!.detail?.['ids'] as Record<string, unknown>)[`t/a@${SNAP}`], { guid: '18446744073709551001', txg: '77' });
});

test('applyPlan: a snapshot that cannot be looked for (its pool cannot be listed) is a leftover, and the journal stays', async (t) => {
  const dir = tmp(t);
  const { sys, engine, ctx, journal } = rig(dir, { failAt: 'zfs list -H -p -t snapshot -o name,guid,createtxg -r' });
  engine.during = () => {
    sys.rename('t/a', 't/gone');
  };
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(r.cleanupFailures.length === 0);
  assert.equal(r.cleanupFailures.length, 1);
  assert.match(r.cleanupFailures[0]!, new RegExp(`^snapshot t/a@${SNAP}: could not look for it in pool t`));
  assert.deepEqual(runStatus(r, null).code, 5);
  assert.ok(existsSync(`${dir}/j.journal`), 'the journal stays');
  assert.deepEqual(readPending(`${dir}/j.journal`).map((p) => p.phase), ['destroy']);
});

test('applyPlan: a mount that failed and left nothing mounted is not unmounted; the folders made so far are removed', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const { sys, runner, ctx, journal } = rig(dir, { failAt: 'mount -t zfs -o ro t/a@' });
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.deepEqual(runStatus(r, null), { status: 'setup-failed', code: 4 });
  assert.deepEqual(r.cleanupFailures, []);
  const c = calls(runner);
  assert.deepEqual(c.filter((x) => x.startsWith('umount')), [`umount2 ${root}/t`]);
  assert.equal(c.filter((x) => x.startsWith('mount2 ')).length, 2, 'one mount process per level');
  assert.equal(existsSync(root), false);
  assert.deepEqual(sys.mounts(), []);
  assert.deepEqual(readPending(`${dir}/j.journal`), []);
});

test('applyPlan: a mount that reported failure but is in the mount table is unmounted', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const { sys, runner, ctx, journal } = rig(dir, { failAt: 'mount -t zfs -o ro t/a@', partly: true });
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.deepEqual(runStatus(r, null).code, 4);
  assert.deepEqual(calls(runner).filter((x) => x.startsWith('umount')), [`umount2 ${root}/t/a ${root}/t`]);
  assert.deepEqual(sys.mounts(), []);
});

test('applyPlan: mkdir of a folder that someone else made meanwhile (EEXIST): that folder is never removed', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const { sys, ctx, journal } = rig(dir);
  const plan = makePlan(root);
  mkdirSync(root); // the pre hook made it after the plan was made
  const r = await applyPlan(plan, ctx);
  journal.close(false);
  assert.deepEqual(runStatus(r, null), { status: 'setup-failed', code: 4 });
  assert.ok(existsSync(root), 'their folder stays');
  assert.deepEqual(r.cleanupFailures, []);
  assert.equal(sys.snaps.size, 0, 'our snapshots are gone');
  assert.deepEqual(readPending(`${dir}/j.journal`), []);
});

test('applyPlan: a mount root whose parent is missing: setup-failed (4), snapshots released and destroyed, no folder', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/missing/root`;
  const { sys, ctx, journal } = rig(dir);
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.deepEqual(runStatus(r, null), { status: 'setup-failed', code: 4 });
  assert.deepEqual(r.cleanupFailures, []);
  assert.equal(existsSync(`${dir}/missing`), false);
  assert.equal(sys.snaps.size, 0);
});

test('applyPlan: a destroy that reports success but leaves a snapshot is caught (by the program\'s own look-up, then the exact destroy\'s listing): cleanup-incomplete (5), journal entry kept', async (t) => {
  const dir = tmp(t);
  const { ctx, journal } = rig(dir, { lie: true });
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(false);
  assert.deepEqual(r.cleanupFailures, [`snapshot t@${SNAP}: it is still there after zfs destroy reported success`, `snapshot t/a@${SNAP}: it is still there after zfs destroy reported success`]);
  assert.deepEqual(runStatus(r, null), { status: 'cleanup-incomplete', code: 5 });
  assert.deepEqual(readPending(`${dir}/j.journal`).map((p) => p.phase), ['destroy'], 'recovery will try the destroy again');
});

test('applyPlan: a destroy program that exits 0 without its answer (an empty or cut script) is not believed: the exact destroy runs and its listing decides; exit 0, nothing left', async (t) => {
  const dir = tmp(t);
  const { sys, runner, ctx, journal } = rig(dir, { mute: true });
  const r = await applyPlan(makePlan(`${dir}/root`), ctx);
  journal.close(false);
  assert.deepEqual(r.cleanupFailures, []);
  assert.deepEqual(runStatus(r, null), { status: 'ok', code: 0 });
  const c = calls(runner);
  const program = `zfs program -j t - R1 h:b:1 t@${SNAP} g-616 77 t/a@${SNAP} g-615 77`;
  assert.deepEqual(c.slice(c.indexOf(program)), [
    program,
    `zfs list -H -p -t snapshot -o name,guid,createtxg t@${SNAP} t/a@${SNAP}`,
    `zfs get -H -p -o name,property,value,source -s local -t snapshot kopiatomic:run,kopiatomic:owner t@${SNAP} t/a@${SNAP}`,
    `zfs holds -H t@${SNAP} t/a@${SNAP}`,
    program,
    `zfs list -H -p -t snapshot -o name,guid,createtxg t@${SNAP} t/a@${SNAP}`,
  ]);
  assert.equal(sys.snaps.size, 0);
  assert.deepEqual(readPending(`${dir}/j.journal`), []);
});

test('applyPlan: a mount that disappeared while the engine ran fails the backup (1), names the mount, and teardown does not unmount that target again', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const { sys, runner, engine, ctx, journal } = rig(dir);
  // The engine "runs" while someone unmounts one of the tree's mounts from outside.
  engine.during = () => {
    const gone = sys.mounts().find((m) => m.target === `${root}/t/a`)!;
    sys.mounts().splice(sys.mounts().indexOf(gone), 1);
  };
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.deepEqual(r.lostMounts, [`${root}/t/a (t/a@${SNAP})`]);
  assert.equal(runStatus(r, null).status, 'backup-failed');
  assert.deepEqual(r.cleanupFailures, []);
  assert.ok(calls(runner).includes(`umount2 ${root}/t`), 'the mount still there is unmounted');
  assert.ok(!calls(runner).some((c) => /^umount/.test(c) && c.includes(`${root}/t/a`)), 'the lost target is not unmounted again');
  assert.equal(sys.snaps.size, 0);
  assert.deepEqual(readPending(`${dir}/j.journal`), []);
});

test('applyPlan: a mount covered by another one during the backup fails it, naming what covered it', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  const { sys, engine, ctx, journal } = rig(dir);
  engine.during = () => sys.mounts().push({ source: 'tmpfs', target: `${root}/t/a`, fstype: 'tmpfs', root: '/' });
  const r = await applyPlan(makePlan(root), ctx);
  journal.close(false);
  assert.deepEqual(r.lostMounts, [`${root}/t/a (t/a@${SNAP}: tmpfs was mounted over it)`]);
  assert.equal(runStatus(r, null).status, 'backup-failed');
});
