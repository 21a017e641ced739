import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { CommandError, quoteArgv } from '../../src/core/errors.js';
import type { ApplyContext, UndoEntry } from '../../src/execute/context.js';
import { checkTarget, mountBatch, unmountBatch } from '../../src/execute/mount-phase.js';
import { sameSnapshotMount } from '../../src/execute/mount-check.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { joinCleanup, mountLevels, unmountCommands } from '../../src/plan/mounts.js';
import { tableField } from '../../src/zfs/mount-table.js';
import type { Plan, Step } from '../../src/plan/types.js';
import { DESTROY_PROGRAM } from '../../src/zfs/destroy-program.js';
import { Journal, readPending } from '../../src/safety/journal.js';
import { planCommands } from '../../src/cli/print-plan.js';
import { commandEngine } from '../../src/engine/command.js';
import { buildPlan } from '../../src/plan/plan.js';
import { linux } from '../../src/platform/linux.js';
import { freebsd } from '../../src/platform/freebsd.js';
import { CARRIER_REFUSED, mount2Argv, umount2Argv } from '../../src/platform/syscall-batch.js';
import type { Dataset } from '../../src/discover/inventory.js';
import { ds, FakeRunner, quietReporter, unmountTargets } from './helpers.js';

test('mountLevels: a mount is one level below the nearest mount that contains it', () => {
  const levels = mountLevels([{ target: '/k' }, { target: '/k/a' }, { target: '/k/b' }, { target: '/k/a/x/y' }, { target: '/k/b/c/d' }]);
  assert.deepEqual(
    levels.map((l) => l.map((m) => m.target)),
    [['/k'], ['/k/a', '/k/b'], ['/k/a/x/y', '/k/b/c/d']],
  );
  // Not nested: one level, however deep the paths.
  assert.deepEqual(mountLevels([{ target: '/k/srv/a' }, { target: '/k/data/x/y/z' }, { target: '/k/ab' }]).length, 1);
  assert.deepEqual(mountLevels([{ target: '/k/a' }, { target: '/k/ab/c' }]).length, 1, '/k/ab is not inside /k/a');
  assert.deepEqual(mountLevels([]), []);
});

test('tableField: fstab(5) octal escapes for space, tab, newline and backslash', () => {
  assert.equal(tableField('tank/my data@s'), 'tank/my\\040data@s');
  assert.equal(tableField('/a\tb\nc\\d'), '/a\\011b\\012c\\134d');
  assert.equal(tableField('/plain/path'), '/plain/path');
});

test('unmountCommands / joinCleanup: consecutive unmounts become the platform\'s one batch command, in order; others are kept', () => {
  const u = (t: string) => ({ kind: 'exec' as const, mutates: true, argv: ['umount', t] });
  const argvs = (p: typeof linux) => unmountCommands([u('/k/a/b'), u('/k/a'), u('/k')], p).map((a) => (a.kind === 'exec' ? a.argv : []));
  // FreeBSD: umount(8), reporting each target (-v); Linux: umount2(2) per target, from one perl process.
  assert.deepEqual(argvs(freebsd), [['umount', '-v', '/k/a/b', '/k/a', '/k']]);
  assert.deepEqual(argvs(linux), [umount2Argv(['/k/a/b', '/k/a', '/k'])]);
  const rm = { kind: 'rmdir' as const, path: '/k/x' };
  assert.deepEqual(
    joinCleanup(
      [
        { phase: 'umount', action: u('/k/a') },
        { phase: 'umount', action: u('/k') },
        { phase: 'rmdir', action: rm },
      ],
      freebsd,
    ),
    [
      { phase: 'umount', action: { kind: 'exec', mutates: true, argv: ['umount', '-v', '/k/a', '/k'] } },
      { phase: 'rmdir', action: rm },
    ],
  );
});

function tmp(): string {
  return mkdtempSync(`${tmpdir()}/kt-mounts-`);
}

test('checkTarget: a real folder inside our root-only folders passes; a symlink anywhere on the path is refused', () => {
  const root = tmp();
  try {
    chmodSync(root, 0o700);
    mkdirSync(`${root}/pool/home`, { recursive: true, mode: 0o700 });
    checkTarget(root, `${root}/pool/home`, new Set());
    const elsewhere = tmp();
    mkdirSync(`${elsewhere}/vm`);
    symlinkSync(elsewhere, `${root}/pool/home/work`);
    // /pool/home is "mounted" (a snapshot: read-only), so it may belong to anyone; the symlink is still refused.
    assert.throws(() => checkTarget(root, `${root}/pool/home/work/vm`, new Set([`${root}/pool/home`])), /work is a symbolic link/);
    rmSync(elsewhere, { recursive: true });
    assert.throws(() => checkTarget(root, `${root}/pool/missing`, new Set()), /missing/);
    assert.throws(() => checkTarget(root, '/etc', new Set()), /not inside the mount root/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('checkTarget within one level: folders proven once are not read again, every new one is, and a refused one is never taken as proven', () => {
  const root = tmp();
  try {
    chmodSync(root, 0o700);
    mkdirSync(`${root}/pool/home/a`, { recursive: true, mode: 0o700 });
    mkdirSync(`${root}/pool/home/open`, { mode: 0o700 });
    chmodSync(`${root}/pool/home/open`, 0o777);
    const elsewhere = tmp();
    symlinkSync(elsewhere, `${root}/pool/home/link`);
    const checked = new Set<string>();
    checkTarget(root, `${root}/pool/home/a`, new Set(), checked);
    assert.deepEqual([...checked].sort(), [root, `${root}/pool`, `${root}/pool/home`, `${root}/pool/home/a`]);
    assert.throws(() => checkTarget(root, `${root}/pool/home/link`, new Set(), checked), /link is a symbolic link/);
    assert.throws(() => checkTarget(root, `${root}/pool/home/open/x`, new Set(), checked), /open could be changed by another user/);
    assert.ok(!checked.has(`${root}/pool/home/open`) && !checked.has(`${root}/pool/home/link`));
    assert.throws(() => checkTarget(root, `${root}/pool/./home/a`, new Set(), checked), /not a plain absolute path/);
    rmSync(elsewhere, { recursive: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('checkTarget: a mount root reached through a symlink is refused', () => {
  const real = tmp();
  const link = `${real}-link`;
  try {
    chmodSync(real, 0o700);
    mkdirSync(`${real}/pool`, { mode: 0o700 });
    symlinkSync(real, link);
    assert.throws(() => checkTarget(link, `${link}/pool`, new Set()), /resolves to/);
  } finally {
    rmSync(link, { force: true });
    rmSync(real, { recursive: true, force: true });
  }
});

test('checkTarget: a folder outside every snapshot that others can write to is refused', () => {
  const root = tmp();
  try {
    chmodSync(root, 0o700);
    mkdirSync(`${root}/open`, { mode: 0o700 });
    chmodSync(`${root}/open`, 0o777);
    mkdirSync(`${root}/open/x`, { mode: 0o700 });
    assert.throws(() => checkTarget(root, `${root}/open/x`, new Set()), /could be changed by another user/);
    // Inside a snapshot mount (read-only), the same modes are fine.
    checkTarget(root, `${root}/open/x`, new Set([`${root}/open`]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** A mount's undo as the executor keeps it. */
function unmountEntry(t: string, seq: number): UndoEntry {
  const undo = { phase: 'umount' as const, action: { kind: 'exec' as const, mutates: true, argv: ['umount', t] } };
  return { step: { phase: 'mount', do: { kind: 'rmdir', path: t }, undo, detail: { target: t, source: 't@s' } }, seq, undo };
}

/** The dry run's commands for a tree layout under /k with the command engine. */
function dryRunCommands(selected: Dataset[]) {
  const p = buildPlan({
    selection: { selected, skipped: [] },
    runId: 'R',
    snapshot: 'kopiatomic-R',
    owner: 'b:1',
    mountRoot: '/k',
    mountRootExists: true,
    platform: linux,
    engine: commandEngine,
    probe: {},
    stateDir: '/run/kopiatomic',
    layout: 'tree',
    command: ['true'],
    options: [],
  });
  return planCommands(p, null, null);
}

function ctxFor(runner: FakeRunner, journal: Journal | null): { ctx: ApplyContext; events: Record<string, unknown>[] } {
  const { reporter } = quietReporter();
  const events: Record<string, unknown>[] = [];
  const orig = reporter.event.bind(reporter);
  reporter.event = (name: string, data: Record<string, unknown> = {}) => {
    events.push({ event: name, ...data });
    orig(name, data);
  };
  return { ctx: { runner, reporter, interrupt: new Interrupt(reporter), journal, env: {} }, events };
}

function batchPlan(root: string, targets: string[]): { plan: Plan; step: Step } {
  const table = `${root}/state.mounts`;
  const step: Step = {
    phase: 'mount',
    do: { kind: 'exec', mutates: true, argv: ['mount', '--all', '--internal-only', '--verbose', '--fstab', table] },
    batch: { root, fallback: ['mount', '--all', '--internal-only', '--verbose', '--fstab', table], mounts: targets.map((t) => ({ target: t, dataset: `tank${t.slice(root.length)}`, source: `tank${t.slice(root.length)}@snap`, undo: { kind: 'exec', mutates: true, argv: ['umount', t] } })) },
  };
  const plan = { steps: [{ phase: 'mount-table', do: { kind: 'write', path: table, mode: 0o600, content: '' } }, step], engineContext: { platform: 'linux' } } as unknown as Plan;
  return { plan, step };
}

test('mountBatch: targets checked, every undo journaled in one go before the one mount process, one step event per mount', async () => {
  const root = tmp();
  try {
    chmodSync(root, 0o700);
    mkdirSync(`${root}/a`, { mode: 0o700 });
    mkdirSync(`${root}/b`, { mode: 0o700 });
    const journal = new Journal(`${root}/j.journal`, 'RUN');
    let pendingAtMount = -1;
    const runner = new FakeRunner(() => {
      pendingAtMount = readPending(`${root}/j.journal`).length;
      return { code: 0, stdout: '', stderr: '' };
    });
    const { ctx, events } = ctxFor(runner, journal);
    const { plan, step } = batchPlan(root, [`${root}/a`, `${root}/b`]);
    const undo: UndoEntry[] = [];
    await mountBatch(step, plan, ctx, undo);
    assert.equal(runner.calls.length, 1);
    assert.equal(runner.calls[0]!.opts?.progress, true, 'its limit follows the mounts it reports');
    assert.equal(pendingAtMount, 2, 'both undos were on disk when the mount process started');
    assert.deepEqual(undo.map((u) => u.step.detail?.['target']), [`${root}/a`, `${root}/b`]);
    const steps = events.filter((e) => e['event'] === 'step');
    // The command shortened (the exec event has it whole): a level of thousands writes thousands of these.
    assert.deepEqual(steps.map((e) => [e['target'], e['command']]), [
      [`${root}/a`, 'mount --all --internal-only … (+3 more)'],
      [`${root}/b`, 'mount --all --internal-only … (+3 more)'],
    ]);

    // Cleanup: one umount for both; journaled as done.
    const r = await unmountBatch(undo.slice().reverse(), plan, ctx);
    assert.deepEqual(r, { blocked: [], failures: [] });
    assert.deepEqual(runner.calls.at(-1)!.argv, umount2Argv([`${root}/b`, `${root}/a`]));
    assert.equal(runner.calls.at(-1)!.opts?.progress, true, 'its limit follows the unmounts it reports');
    assert.equal(readPending(`${root}/j.journal`).length, 0);
    journal.close(false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('mountBatch: where perl is not installed, or refuses to run here, the level is mounted by mount(8) over its table, still one process whose limit follows its reports; every undo journaled before either ran', async () => {
  const root = tmp();
  try {
    chmodSync(root, 0o700);
    mkdirSync(`${root}/a`, { mode: 0o700 });
    const journal = new Journal(`${root}/j.journal`, 'RUN');
    const pending: number[] = [];
    const runner = new FakeRunner((argv) => {
      pending.push(readPending(`${root}/j.journal`).length);
      return argv[0] === 'perl' ? new CommandError(argv, 127, null, '', 'program-missing') : { code: 0, stdout: '', stderr: '' };
    });
    const { ctx } = ctxFor(runner, journal);
    const { plan, step } = batchPlan(root, [`${root}/a`]);
    const perl = mount2Argv('zfs', [[`tank/a@snap`, `${root}/a`]], 'x64')!;
    const undo: UndoEntry[] = [];
    await mountBatch({ ...step, do: { kind: 'exec', mutates: true, argv: perl } }, plan, ctx, undo);
    assert.deepEqual(runner.argvs, [perl, ['mount', '--all', '--internal-only', '--verbose', '--fstab', `${root}/state.mounts`]]);
    assert.ok(runner.calls.every((c) => c.opts?.progress === true));
    assert.deepEqual(pending, [1, 1]);
    assert.deepEqual(undo.map((u) => u.step.detail?.['target']), [`${root}/a`]);
    // A carrier that refused to run here before any call (another ABI's perl): mount(8) too.
    const refusing = new FakeRunner((argv) => (argv[0] === 'perl' ? new CommandError(argv, CARRIER_REFUSED, null, 'mount2: perl is built for ELF machine 3, class 1, not machine 62, class 2', 'failed') : { code: 0, stdout: '', stderr: '' }));
    const undo2: UndoEntry[] = [];
    await mountBatch({ ...step, do: { kind: 'exec', mutates: true, argv: perl } }, plan, ctxFor(refusing, null).ctx, undo2);
    assert.deepEqual(refusing.argvs, [perl, ['mount', '--all', '--internal-only', '--verbose', '--fstab', `${root}/state.mounts`]]);
    assert.equal(undo2.length, 1);
    // Any other failure of the carrier is the level's failure: no second try by mount(8).
    const broken = new FakeRunner((argv) => new CommandError(argv, 1, null, 'mount2 tank/a@snap at /x: No such device (errno 19)', 'failed'));
    const platform = { ...linux, readMounts: async () => [] };
    await assert.rejects(mountBatch({ ...step, do: { kind: 'exec', mutates: true, argv: perl } }, plan, { ...ctxFor(broken, null).ctx, platform }, []), /errno 19/);
    assert.deepEqual(broken.argvs, [perl]);
    journal.close(false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('mountBatch: a symlinked target fails before anything is journaled or run', async () => {
  const root = tmp();
  const elsewhere = tmp();
  try {
    chmodSync(root, 0o700);
    mkdirSync(`${elsewhere}/x`);
    symlinkSync(elsewhere, `${root}/a`);
    const runner = new FakeRunner(() => ({ code: 0, stdout: '', stderr: '' }));
    const { ctx } = ctxFor(runner, null);
    const { plan, step } = batchPlan(root, [`${root}/a/x`]);
    const undo: UndoEntry[] = [];
    await assert.rejects(mountBatch(step, plan, ctx, undo), /symbolic link/);
    assert.equal(runner.calls.length, 0);
    assert.deepEqual(undo, []);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('unmountBatch: when the batch fails, what is still mounted is unmounted one by one and the busy one is named', async () => {
  const root = tmp();
  try {
    const { plan } = batchPlan(root, []);
    // Our fake "mount table" is /proc/self/mountinfo of this process: none of these are mounted,
    // so after a failed batch every target counts as gone, except what the fallback is asked about.
    const runner = new FakeRunner((argv) => (argv.length > 2 ? new CommandError(argv, 32, null, 'umount: x: target is busy.') : { code: 0, stdout: '', stderr: '' }));
    const { ctx } = ctxFor(runner, null);
    const r = await unmountBatch([unmountEntry(`${root}/a`, 0), unmountEntry(`${root}/b`, 0)], plan, ctx);
    assert.deepEqual(r, { blocked: [], failures: [] }, 'not in the mount table: nothing to retry');
    assert.equal(runner.calls.length, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Journal: willDoMany / undoneMany write many entries with one fsync each and read back like single ones', () => {
  const root = tmp();
  try {
    const j = new Journal(`${root}/j.journal`, 'RUN');
    const seqs = j.willDoMany([
      { phase: 'umount', action: { kind: 'exec', mutates: true, argv: ['umount', '/k/a'] } },
      { phase: 'umount', action: { kind: 'exec', mutates: true, argv: ['umount', '/k/b'] } },
    ]);
    assert.deepEqual(seqs, [1, 2]);
    assert.deepEqual(readPending(`${root}/j.journal`).map((p) => p.seq), [2, 1], 'newest first');
    j.undoneMany([2]);
    assert.deepEqual(readPending(`${root}/j.journal`).map((p) => p.seq), [1]);
    assert.equal(readFileSync(`${root}/j.journal`, 'utf8').trim().split('\n').length, 3);
    j.close(true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the dry run shows each level\'s table as the shell would write it (mount(8)\'s input where perl is missing), then its mount(2) batch, then one umount', async () => {
  const cmds = dryRunCommands([ds('tank', '/tank'), ds('tank/a b', '/tank/a b')]).map((c) => c.command).filter((c) => /mount|install/.test(c));
  assert.deepEqual(cmds, [
    "install -m 0600 /dev/stdin /run/kopiatomic/%2Fk.mounts <<'KOPIATOMIC_TABLE'\ntank@kopiatomic-R /k/tank zfs ro 0 0\nKOPIATOMIC_TABLE",
    quoteArgv(mount2Argv('zfs', [['tank@kopiatomic-R', '/k/tank']])!),
    "install -m 0600 /dev/stdin /run/kopiatomic/%2Fk.mounts <<'KOPIATOMIC_TABLE'\ntank/a\\040b@kopiatomic-R /k/tank/a\\040b zfs ro 0 0\nKOPIATOMIC_TABLE",
    quoteArgv(mount2Argv('zfs', [['tank/a b@kopiatomic-R', '/k/tank/a b']])!),
    quoteArgv(umount2Argv(['/k/tank/a b', '/k/tank'])!),
  ]);
});

test('unmountCommands: a small batch is one command; a large one is two, the first with a third of the leaves, the second with the other two thirds and then every parent, children first', () => {
  const un = (t: string) => ({ kind: 'exec' as const, mutates: true, argv: ['umount', t] });
  const small = ['/k/t/h/u1', '/k/t/h', '/k/t'].map(un);
  assert.deepEqual(unmountCommands(small, freebsd).map((a) => (a.kind === 'exec' ? a.argv : [])), [['umount', '-v', '/k/t/h/u1', '/k/t/h', '/k/t']]);

  // Children first, as cleanup has them: 100 users, then /k/t/h, then /k/t; plus a leaf right under the pool root.
  const users = Array.from({ length: 100 }, (_, i) => `/k/t/h/u${String(100 - i).padStart(3, '0')}`);
  const targets = [...users, '/k/t/srv', '/k/t/h', '/k/t'];
  const cmds = unmountCommands(targets.map(un), linux).map((a) => (a.kind === 'exec' ? unmountTargets(a.argv)! : []));
  assert.deepEqual(unmountCommands(targets.map(un), freebsd).map((a) => (a.kind === 'exec' ? unmountTargets(a.argv) : [])), cmds, 'the same split on either platform');
  assert.equal(cmds.length, 2);
  assert.equal(cmds[0]!.length, Math.floor(101 / 3), 'the first has a third of the 101 leaves');
  assert.ok(cmds[0]!.every((t) => t !== '/k/t/h' && t !== '/k/t'), 'the first has leaves only');
  assert.deepEqual([...cmds[0]!, ...cmds[1]!].sort(), [...targets].sort(), 'every target once');
  assert.deepEqual(cmds[1]!.slice(-2), ['/k/t/h', '/k/t'], 'the parents come last, children first');
  assert.ok(cmds[1]!.length - 2 >= 2 * cmds[0]!.length, 'the second has twice the leaves to do before the parents');
  assert.deepEqual(joinCleanup(targets.map((t) => ({ phase: 'umount', action: un(t) })), linux).map((c) => c.beside ?? false), [true, false]);
});

test('unmountBatch: a large batch runs two umount processes side by side; when one fails, what is still mounted is unmounted one by one', async () => {
  const root = tmp();
  try {
    const { plan } = batchPlan(root, []);
    const entries = [...Array.from({ length: 80 }, (_, i) => unmountEntry(`${root}/t/u${i}`, 0)), unmountEntry(`${root}/t`, 0)];
    let running = 0;
    let most = 0;
    const runner = new FakeRunner(async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return { code: 0, stdout: '', stderr: '' };
    });
    const { ctx, events } = ctxFor(runner, null);
    const r = await unmountBatch(entries, plan, ctx);
    assert.deepEqual(r, { blocked: [], failures: [] });
    assert.equal(runner.calls.length, 2);
    assert.equal(most, 2, 'both ran at the same time');
    assert.equal(runner.calls[1]!.argv.at(-1), `${root}/t`, 'the parent last');
    const steps = events.filter((e) => e['event'] === 'step');
    assert.equal(steps.length, 81, 'one step event per unmount');
    assert.ok(steps.every((e) => String(e['command']).startsWith('perl -T -e ') && String(e['command']).length < 100), 'each names its batch command, shortened');

    // One of the two fails: the fallback asks the mount table (none of these are really mounted: all gone).
    const failing = new FakeRunner((argv) => (argv.at(-1) === `${root}/t` ? new CommandError(argv, 32, null, 'umount: target is busy.') : { code: 0, stdout: '', stderr: '' }));
    const r2 = await unmountBatch(entries, plan, ctxFor(failing, null).ctx);
    assert.deepEqual(r2, { blocked: [], failures: [] });
    assert.equal(failing.calls.length, 2, 'both ran; nothing left to retry');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('unmountBatch: where perl is not installed, or refuses to run here, the same targets are unmounted by umount(8) -v, still one process, its time limit following its reports', async () => {
  const root = tmp();
  try {
    const { plan } = batchPlan(root, []);
    const entries = [unmountEntry(`${root}/t/a`, 0), unmountEntry(`${root}/t`, 0)];
    const runner = new FakeRunner((argv) => (argv[0] === 'perl' ? new CommandError(argv, 127, null, '', 'program-missing') : { code: 0, stdout: '', stderr: '' }));
    const r = await unmountBatch(entries, plan, ctxFor(runner, null).ctx);
    assert.deepEqual(r, { blocked: [], failures: [] });
    assert.deepEqual(runner.argvs, [umount2Argv([`${root}/t/a`, `${root}/t`]), ['umount', '-v', `${root}/t/a`, `${root}/t`]]);
    assert.ok(runner.calls.every((c) => c.opts?.progress === true));
    // A carrier that refused to run here before any call: umount(8) -v as well.
    const refusing = new FakeRunner((argv) => (argv[0] === 'perl' ? new CommandError(argv, CARRIER_REFUSED, null, 'umount2: perl is built for ELF machine 3, class 1, not machine 62, class 2', 'failed') : { code: 0, stdout: '', stderr: '' }));
    assert.deepEqual(await unmountBatch(entries, plan, ctxFor(refusing, null).ctx), { blocked: [], failures: [] });
    assert.deepEqual(refusing.argvs, runner.argvs);
    // Any other failure of the carrier (it ran, and one unmount failed): what is left is unmounted one by one.
    const broken = new FakeRunner((argv) => (argv[0] === 'perl' ? new CommandError(argv, 1, null, 'umount2 /t/a: Device or resource busy (errno 16)', 'failed') : { code: 0, stdout: '', stderr: '' }));
    const platform = { ...linux, readMounts: async () => entries.map((e) => ({ source: 't@s', target: String(e.step.detail?.['target']), fstype: 'zfs', root: '/' })) };
    const r2 = await unmountBatch(entries, plan, { ...ctxFor(broken, null).ctx, platform });
    assert.deepEqual(r2, { blocked: [], failures: [] });
    assert.deepEqual(broken.argvs.slice(1), [['umount', `${root}/t/a`], ['umount', `${root}/t`]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('unmountBatch: a batch that exits 0 but leaves a target mounted is not believed: the mount table decides, what is still ours is unmounted one by one, a foreign mount now at a target is left alone, and only what is still mounted stays pending in the journal', async () => {
  const root = tmp();
  try {
    const { plan } = batchPlan(root, []);
    const journal = new Journal(`${root}/j.journal`, 'RUN');
    const targets = [`${root}/t/a`, `${root}/t/b`, `${root}/t/c`, `${root}/t`];
    const seqs = journal.willDoMany(targets.map((t) => ({ phase: 'umount', action: { kind: 'exec', mutates: true, argv: ['umount', t] }, detail: { target: t } })));
    const entries = targets.map((t, i) => unmountEntry(t, seqs[i]!));
    // The carrier says it is done, and unmounts only /t/a and /t/c, where someone else then mounts a tmpfs;
    // /t/b stays busy for one-by-one unmounts too.
    let table = targets.map((t) => ({ source: 't@s', target: t, fstype: 'zfs', root: '/' }));
    const runner = new FakeRunner((argv) => {
      if (argv[0] === 'perl') table = [...table.filter((m) => m.target !== `${root}/t/a` && m.target !== `${root}/t/c`), { source: 'other', target: `${root}/t/c`, fstype: 'tmpfs', root: '/' }];
      else if (argv[0] === 'umount' && argv[1] === `${root}/t/b`) return new CommandError(argv, 32, null, 'umount: target is busy.', 'busy');
      else if (argv[0] === 'umount') table = table.filter((m) => m.target !== argv[1]);
      return { code: 0, stdout: '', stderr: '' };
    });
    const platform = { ...linux, readMounts: async () => table };
    const r = await unmountBatch(entries, plan, { ...ctxFor(runner, journal).ctx, platform });
    assert.deepEqual(r.blocked, [`${root}/t/b`]);
    assert.equal(r.failures.length, 1);
    assert.deepEqual(runner.argvs.filter((a) => a[0] === 'umount').map((a) => a[1]), [...Array(5).fill(`${root}/t/b`), `${root}/t`], 'the busy one tried five times, the parent once; /t/a and the foreign mount at /t/c never');
    assert.ok(table.some((m) => m.source === 'other'), 'the foreign mount is still there');
    journal.close(false);
    assert.deepEqual(readPending(`${root}/j.journal`).map((p) => (p.action.kind === 'exec' ? p.action.argv.at(-1) : '')), [`${root}/t/b`], 'only the one still mounted stays pending');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the dry run of a large tree shows the two unmounts as the shell runs them side by side: the first with &, then wait', async () => {
  const users = Array.from({ length: 70 }, (_, i) => ds(`tank/home/u${i}`, `/tank/home/u${i}`));
  const all = dryRunCommands([ds('tank', '/tank'), ds('tank/home', '/tank/home'), ...users]);
  const um = all.slice(all.findIndex((c) => c.phase === 'umount')).filter((c) => c.phase === 'umount' || c.phase === 'wait').map((c) => c.command);
  assert.equal(um.length, 3);
  assert.ok(um[0]!.startsWith(quoteArgv(umount2Argv([])!) + ' /k/tank/home/u') && um[0]!.endsWith(' &'), um[0]);
  assert.match(um[1]!, / \/k\/tank\/home \/k\/tank$/);
  assert.equal(um[2], 'wait');
});

test('the dry run shows the hold and the identity program beside the mounts (each with &, wait before the backup), and the release beside the unmount', () => {
  const c = dryRunCommands([ds('tank', '/tank'), ds('tank/a', '/tank/a')]).map((x) => `${x.phase}: ${x.command}`);
  assert.deepEqual(
    c.filter((x) => !/^(mkdir|mount-table|rmdir):/.test(x)).map((x) => x.split('\n')[0]!.replace(/kopiatomic-R/g, 'S').replace(/^([\w-]+): (\S+ \S+).*?( &)?$/, '$1: $2$3')),
    [
      'snapshot: zfs snapshot',
      'hold: zfs hold &',
      'inspect: zfs program &',
      'mount: perl -T',
      'mount: perl -T',
      'wait: wait',
      'backup: true /k',
      'release: zfs release &',
      'umount: perl -T',
      'wait: wait',
      'destroy: zfs program',
    ],
  );
  // The destroy as the shell would run it: the program on stdin (each snapshot with its identity's
  // slots), and should it fail, the exact destroy's commands; never `zfs destroy -r`.
  const destroy = dryRunCommands([ds('tank', '/tank'), ds('tank/a', '/tank/a')]).find((x) => x.phase === 'destroy')!.command;
  const S = 'kopiatomic-R';
  assert.ok(destroy.startsWith(`zfs program -j tank - R b:1 tank@${S} '{guid}' '{createtxg}' tank/a@${S} '{guid}' '{createtxg}' <<'KOPIATOMIC_PROGRAM' || {\n${DESTROY_PROGRAM}KOPIATOMIC_PROGRAM\n`), destroy);
  assert.ok(destroy.endsWith('\n}'));
  assert.match(destroy, new RegExp(`\\n  zfs release kopiatomic tank@${S} tank/a@${S} `));
  assert.doesNotMatch(destroy, /destroy -r/);
});

test('sameSnapshotMount: our source, or a zfs mount of this run\'s snapshot under a dataset renamed since; nothing else', () => {
  const e = (source: string, fstype = 'zfs') => ({ source, target: '/r/t/a', fstype, root: '/' });
  assert.equal(sameSnapshotMount(e('t/a@kopiatomic-R'), 't/a@kopiatomic-R', 'kopiatomic-R'), true);
  assert.equal(sameSnapshotMount(e('t/moved@kopiatomic-R'), 't/a@kopiatomic-R', 'kopiatomic-R'), true);
  assert.equal(sameSnapshotMount(e('t/moved@kopiatomic-R', 'tmpfs'), 't/a@kopiatomic-R', 'kopiatomic-R'), false);
  assert.equal(sameSnapshotMount(e('t/a@kopiatomic-OTHER'), 't/a@kopiatomic-R', 'kopiatomic-R'), false);
  assert.equal(sameSnapshotMount(e('t/a@x-kopiatomic-R2'), 't/a@kopiatomic-R', 'kopiatomic-R'), false);
});
