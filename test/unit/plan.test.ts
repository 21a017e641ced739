import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/discover/inventory.js';
import { kopiaEngine } from '../../src/engine/kopia.js';
import { resticEngine } from '../../src/engine/restic.js';
import type { Engine, Layout } from '../../src/engine/engine.js';
import { freebsd } from '../../src/platform/freebsd.js';
import { linux } from '../../src/platform/linux.js';
import type { Platform } from '../../src/platform/platform.js';
import { mountOrder } from '../../src/core/paths.js';
import { buildPlan, cleanupSteps, commonAncestor, groupByPool, treeTarget } from '../../src/plan/plan.js';
import type { Plan, PlanInput } from '../../src/plan/types.js';
import { DESTROY_PROGRAM, GUID_SLOT, TXG_SLOT } from '../../src/zfs/destroy-program.js';
import { IDENTITY_PROGRAM } from '../../src/zfs/identity-program.js';
import { planCommands } from '../../src/cli/print-plan.js';
import { commandText, ds } from './helpers.js';
import { mount2Argv } from '../../src/platform/syscall-batch.js';

const SNAP = 'kopiatomic-RUN1';

function plan(selected: Dataset[], o: Partial<PlanInput> = {}): Plan {
  return buildPlan({
    selection: { selected, skipped: [] },
    runId: 'RUN1',
    snapshot: SNAP,
    owner: 'boot:99',
    mountRoot: '/kopia',
    mountRootExists: false,
    platform: linux,
    engine: kopiaEngine,
    probe: {},
    stateDir: '/run/kopiatomic',
    layout: 'tree' as Layout,
    command: ['kopia', 'snapshot', 'create'],
    options: [],
    ...o,
  });
}

/** Each batch mount: its command, the table it reads (content), its targets. */
const batches = (p: Plan) =>
  p.steps.flatMap((s, i) => {
    const t = p.steps[i - 1];
    if (!s.batch || s.do.kind !== 'exec' || t?.do.kind !== 'write') return [];
    return [{ argv: s.do.argv, table: t.do.path, mode: t.do.mode, content: t.do.content, targets: s.batch.mounts.map((m) => m.target) }];
  });

const argvOf = (p: Plan, phase: string) =>
  p.steps.filter((s) => s.phase === phase).map((s) => (s.do.kind === 'exec' ? s.do.argv : s.do.kind === 'mkdir' ? ['mkdir', s.do.path, s.do.mode.toString(8)] : ['rmdir', s.do.path]));

test('commonAncestor: deepest shared dataset, by whole components', () => {
  assert.equal(commonAncestor(['tank/a/b']), 'tank/a/b');
  assert.equal(commonAncestor(['tank/a/b', 'tank/a/c']), 'tank/a');
  assert.equal(commonAncestor(['tank/a', 'tank/ab']), 'tank');
  assert.equal(commonAncestor(['tank/a/b', 'tank/a']), 'tank/a');
  assert.equal(commonAncestor(['tank/x', 'tank/y/z', 'tank']), 'tank');
});

test('groupByPool: pools sorted, datasets keep their order', () => {
  const g = groupByPool([ds('zeta/a', '/z'), ds('alpha/b', '/b'), ds('zeta', '/zeta'), ds('alpha', '/alpha')]);
  assert.deepEqual(g, [
    { pool: 'alpha', datasets: ['alpha/b', 'alpha'] },
    { pool: 'zeta', datasets: ['zeta/a', 'zeta'] },
  ]);
});

test('treeTarget: the mount point under the root; / is the root itself', () => {
  assert.equal(treeTarget('/kopia', '/'), '/kopia');
  assert.equal(treeTarget('/kopia', '/home/a b'), '/kopia/home/a b');
});

test('mountOrder: parents before children, then by name', () => {
  const o = mountOrder([{ target: '/k/a/b/c' }, { target: '/k/b' }, { target: '/k' }, { target: '/k/a' }, { target: '/k/a/b' }]);
  assert.deepEqual(o.map((m) => m.target), ['/k', '/k/a', '/k/b', '/k/a/b', '/k/a/b/c']);
});

test('buildPlan: one snapshot step per pool, pools sorted, with run and owner properties', () => {
  const p = plan([ds('zeta/x', '/zx'), ds('alpha/a', '/a'), ds('zeta/y', '/zy'), ds('alpha/b/c', '/abc')]);
  assert.deepEqual(argvOf(p, 'snapshot'), [
    ['zfs', 'snapshot', '-o', 'kopiatomic:run=RUN1', '-o', 'kopiatomic:owner=boot:99', `alpha/a@${SNAP}`, `alpha/b/c@${SNAP}`],
    ['zfs', 'snapshot', '-o', 'kopiatomic:run=RUN1', '-o', 'kopiatomic:owner=boot:99', `zeta/x@${SNAP}`, `zeta/y@${SNAP}`],
  ]);
  assert.deepEqual(p.pools, [
    { pool: 'alpha', datasets: ['alpha/a', 'alpha/b/c'], destroyRoot: 'alpha' },
    { pool: 'zeta', datasets: ['zeta/x', 'zeta/y'], destroyRoot: 'zeta' },
  ]);
  // the snapshot steps come first, before anything else
  assert.deepEqual(p.steps.slice(0, 2).map((s) => s.phase), ['snapshot', 'snapshot']);
});

test('buildPlan: each pool\'s destroy is a channel program given exactly its snapshots with identity slots (run, owner, then name, guid, createtxg), the exact destroy should it fail; never a -r destroy', () => {
  const p = plan([ds('tank/home/alice', '/home/alice'), ds('tank/home/bob', '/home/bob'), ds('solo/one/two', '/two')]);
  const destroys = p.steps.filter((s) => s.phase === 'snapshot').map((s) => s.undo);
  assert.deepEqual(destroys, [
    {
      phase: 'destroy',
      action: { kind: 'exec', mutates: true, argv: ['zfs', 'program', '-j', 'solo', '-', 'RUN1', 'boot:99', `solo/one/two@${SNAP}`, GUID_SLOT, TXG_SLOT], input: DESTROY_PROGRAM },
      exact: { pool: 'solo', run: 'RUN1', owner: 'boot:99', snapshots: [`solo/one/two@${SNAP}`] },
    },
    {
      phase: 'destroy',
      action: {
        kind: 'exec',
        mutates: true,
        argv: ['zfs', 'program', '-j', 'tank', '-', 'RUN1', 'boot:99', `tank/home/alice@${SNAP}`, GUID_SLOT, TXG_SLOT, `tank/home/bob@${SNAP}`, GUID_SLOT, TXG_SLOT],
        input: DESTROY_PROGRAM,
      },
      exact: { pool: 'tank', run: 'RUN1', owner: 'boot:99', snapshots: [`tank/home/alice@${SNAP}`, `tank/home/bob@${SNAP}`] },
    },
  ]);
  // No `zfs destroy -r` anywhere: not in a step, an undo, the cleanup or the dry run.
  const words = JSON.stringify([p.steps, cleanupSteps(p), planCommands(p, null, null)]);
  assert.doesNotMatch(words, /"destroy","-r"|zfs destroy -r/);
  // After the snapshot, a read-only program per pool reads every snapshot's guid and createtxg.
  assert.deepEqual(p.steps.filter((s) => s.phase === 'inspect').map((s) => s.do), [
    { kind: 'exec', mutates: false, argv: ['zfs', 'program', '-n', '-j', 'solo', '-', `solo/one/two@${SNAP}`], input: IDENTITY_PROGRAM },
    { kind: 'exec', mutates: false, argv: ['zfs', 'program', '-n', '-j', 'tank', '-', `tank/home/alice@${SNAP}`, `tank/home/bob@${SNAP}`], input: IDENTITY_PROGRAM },
  ]);
  // All or none: every snapshot is checked before the first is destroyed.
  assert.ok(DESTROY_PROGRAM.indexOf('zfs.check.destroy') < DESTROY_PROGRAM.indexOf('zfs.sync.destroy'));
});

test('buildPlan: one recursive hold per pool root in one call, released in one call; inspect reads every snapshot\'s identity, one read-only program per pool', () => {
  const p = plan([ds('b/x', '/x'), ds('a/y', '/y'), ds('a/z', '/z')]);
  const roots = [`a@${SNAP}`, `b/x@${SNAP}`];
  const holds = p.steps.filter((s) => s.phase === 'hold');
  assert.equal(holds.length, 1);
  assert.deepEqual(holds[0]!.do, { kind: 'exec', mutates: true, argv: ['zfs', 'hold', '-r', 'kopiatomic', ...roots] });
  assert.deepEqual(holds[0]!.undo, { phase: 'release', action: { kind: 'exec', mutates: true, argv: ['zfs', 'release', '-r', 'kopiatomic', ...roots] } });
  assert.deepEqual(argvOf(p, 'inspect'), [
    ['zfs', 'program', '-n', '-j', 'a', '-', `a/y@${SNAP}`, `a/z@${SNAP}`],
    ['zfs', 'program', '-n', '-j', 'b', '-', `b/x@${SNAP}`],
  ]);
  for (const inspect of p.steps.filter((s) => s.phase === 'inspect')) {
    assert.equal(inspect.do.kind === 'exec' && inspect.do.mutates, false);
    assert.equal(inspect.undo, undefined);
    assert.equal(inspect.beside, true);
  }
});

test('buildPlan: nested mounts, parents first; mkdir only outside earlier snapshot mounts', () => {
  const p = plan([
    ds('tank/srv/a/deep', '/srv/a/x/deep'),
    ds('tank/srv/a', '/srv/a'),
    ds('tank/data', '/data/set'),
    ds('tank/other', '/other'),
  ]);
  assert.deepEqual(p.mounts.map((m) => m.target), ['/kopia/other', '/kopia/data/set', '/kopia/srv/a', '/kopia/srv/a/x/deep']);
  const setup = p.steps
    .filter((s) => s.phase === 'mkdir' || s.phase === 'mount' || s.phase === 'mount-table')
    .map((s) => (s.do.kind === 'mkdir' ? `mkdir ${s.do.path}` : s.batch ? `mount ${s.batch.mounts.map((m) => m.target).join(' ')}` : s.do.kind));
  assert.deepEqual(setup, [
    'mkdir /kopia',
    'mkdir /kopia/other',
    'mkdir /kopia/data',
    'mkdir /kopia/data/set',
    'mkdir /kopia/srv',
    'mkdir /kopia/srv/a',
    // one mount process per depth level, each over its own table
    'write',
    'mount /kopia/other /kopia/data/set /kopia/srv/a',
    'write',
    // /kopia/srv/a/x is inside the snapshot mounted at /kopia/srv/a: no mkdir
    'mount /kopia/srv/a/x/deep',
  ]);
  for (const s of p.steps.filter((x) => x.phase === 'mkdir')) {
    assert.equal(s.do.kind === 'mkdir' && s.do.mode, 0o700);
    assert.deepEqual(s.undo, { phase: 'rmdir', action: { kind: 'rmdir', path: s.do.kind === 'mkdir' ? s.do.path : '' } });
  }
});

test('buildPlan: a sibling whose name only starts like a mount point still gets its folder', () => {
  const p = plan([ds('tank/a', '/srv/a'), ds('tank/ab', '/srv/ab')], { mountRootExists: true });
  assert.deepEqual(argvOf(p, 'mkdir'), [
    ['mkdir', '/kopia/srv', '700'],
    ['mkdir', '/kopia/srv/a', '700'],
    ['mkdir', '/kopia/srv/ab', '700'],
  ]);
});

test('cleanupSteps: the release beside the unmounts (children first), then folders, then destroy', () => {
  const p = plan([ds('tank/srv/a/deep', '/srv/a/deep'), ds('tank/srv/a', '/srv/a'), ds('pool2/b', '/b')]);
  const c = cleanupSteps(p).map((u) =>
    u.action.kind === 'exec' ? `${u.phase} ${commandText(u.action.argv)}` : `${u.phase} ${u.action.kind === 'rmdir' ? u.action.path : ''}`,
  );
  assert.deepEqual(c, [
    // the release runs beside the unmounts (the executor waits for both)
    `release zfs release -r kopiatomic pool2/b@${SNAP} tank/srv/a@${SNAP}`,
    // one umount for every mount, children first
    'umount umount2 /kopia/srv/a/deep /kopia/srv/a /kopia/b',
    'rmdir /kopia/srv/a',
    'rmdir /kopia/srv',
    'rmdir /kopia/b',
    'rmdir /kopia',
    `destroy zfs program -j tank - RUN1 boot:99 tank/srv/a/deep@${SNAP} {guid} {createtxg} tank/srv/a@${SNAP} {guid} {createtxg}`,
    `destroy zfs program -j pool2 - RUN1 boot:99 pool2/b@${SNAP} {guid} {createtxg}`,
  ]);
  assert.deepEqual(
    cleanupSteps(p).flatMap((u) => (u.exact ? [u.exact.snapshots.join(' ')] : [])),
    [`tank/srv/a/deep@${SNAP} tank/srv/a@${SNAP}`, `pool2/b@${SNAP}`],
    'each destroy keeps its exact destroy',
  );
  assert.deepEqual(cleanupSteps(p).map((u) => u.beside ?? false).slice(0, 2), [true, false], 'the release runs beside the next command');
  // Without a tree (restic in the paths layout mounts in its namespace) the release simply comes before the destroy.
  const bare = plan([ds('tank/a', '/a')], { engine: resticEngine as Engine, layout: 'paths', command: ['restic', 'backup'] });
  assert.deepEqual(cleanupSteps(bare).map((u) => [u.phase, u.beside ?? false]), [['release', false], ['destroy', false]]);
});

test('buildPlan: an existing mount root gets no mkdir (and is never removed)', () => {
  const p = plan([ds('tank/a', '/a')], { mountRootExists: true });
  assert.deepEqual(argvOf(p, 'mkdir'), [['mkdir', '/kopia/a', '700']]);
  assert.ok(!cleanupSteps(p).some((u) => u.action.kind === 'rmdir' && u.action.path === '/kopia'));
});

test('buildPlan: mount point / is mounted on the mount root itself; its children need no mkdir', () => {
  const p = plan([ds('rpool/home', '/home'), ds('rpool/ROOT', '/'), ds('rpool/var/log', '/var/log')]);
  assert.deepEqual(p.mounts.map((m) => [m.dataset, m.target]), [
    ['rpool/ROOT', '/kopia'],
    ['rpool/home', '/kopia/home'],
    ['rpool/var/log', '/kopia/var/log'],
  ]);
  assert.deepEqual(argvOf(p, 'mkdir'), [['mkdir', '/kopia', '700']]);
  const table = '/run/kopiatomic/%2Fkopia.mounts';
  // mount(2) per snapshot by perl; the table is what mount(8) reads where perl is missing
  assert.deepEqual(batches(p), [
    { argv: mount2Argv('zfs', [[`rpool/ROOT@${SNAP}`, '/kopia']]), table, mode: 0o600, content: `rpool/ROOT@${SNAP} /kopia zfs ro 0 0\n`, targets: ['/kopia'] },
    {
      argv: mount2Argv('zfs', [[`rpool/home@${SNAP}`, '/kopia/home'], [`rpool/var/log@${SNAP}`, '/kopia/var/log']]),
      table,
      mode: 0o600,
      content: `rpool/home@${SNAP} /kopia/home zfs ro 0 0\nrpool/var/log@${SNAP} /kopia/var/log zfs ro 0 0\n`,
      targets: ['/kopia/home', '/kopia/var/log'],
    },
  ]);
});

test('buildPlan on FreeBSD: nullfs of the live mount point .zfs/snapshot', () => {
  const p = plan([ds('zroot/ROOT/default', '/'), ds('tank/my data', '/srv/my data'), ds('tank/leg', '/mnt/legacy', { mountpoint: 'legacy' })], {
    platform: freebsd,
    mountRootExists: true,
  });
  // mount -a -F over an fstab(5) of nullfs entries; a space in a path is \\040
  const table = '/run/kopiatomic/%2Fkopia.mounts'; // the state folder is an input here
  assert.deepEqual(
    batches(p).map((b) => [b.argv, b.content]),
    [
      [['mount', '-a', '-v', '-F', table], `/.zfs/snapshot/${SNAP} /kopia nullfs ro 0 0\n`],
      [
        ['mount', '-a', '-v', '-F', table],
        `/mnt/legacy/.zfs/snapshot/${SNAP} /kopia/mnt/legacy nullfs ro 0 0\n/srv/my\\040data/.zfs/snapshot/${SNAP} /kopia/srv/my\\040data nullfs ro 0 0\n`,
      ],
    ],
  );
  assert.deepEqual(cleanupSteps(p).filter((u) => u.phase === 'umount').map((u) => (u.action.kind === 'exec' ? u.action.argv : [])), [
    ['umount', '-v', '/kopia/srv/my data', '/kopia/mnt/legacy', '/kopia'],
  ]);
});

test('buildPlan: restic paths on Linux needs no tree: no mkdir or mount steps, sources still listed', () => {
  const p = plan([ds('tank/a', '/a'), ds('tank/a/b', '/a/b')], { engine: resticEngine as Engine, layout: 'paths', command: ['restic', 'backup'] });
  assert.deepEqual(p.steps.map((s) => s.phase), ['snapshot', 'hold', 'inspect']);
  assert.deepEqual(p.engineContext.sources, [
    { path: '/a', readFrom: '/kopia/a', dataset: 'tank/a' },
    { path: '/a/b', readFrom: '/kopia/a/b', dataset: 'tank/a/b' },
  ]);
  assert.equal(p.engineContext.layout, 'paths');
  assert.equal(p.engineContext.root, '/kopia');
});

test('buildPlan: a batch mount names each target, its dataset, the source the mount table will show, and its undo', () => {
  const p = plan([ds('tank/a', '/a')]);
  const m = p.steps.find((s) => s.phase === 'mount')!;
  assert.equal(m.undo, undefined, 'the undos are per mount, in the batch');
  assert.deepEqual(m.batch, { root: '/kopia', fallback: ['mount', '--all', '--internal-only', '--verbose', '--fstab', '/run/kopiatomic/%2Fkopia.mounts'], mounts: [{ target: '/kopia/a', dataset: 'tank/a', source: `tank/a@${SNAP}`, undo: { kind: 'exec', mutates: true, argv: ['umount', '/kopia/a'] } }] });
});

test('buildPlan: nothing selected gives no steps', () => {
  assert.deepEqual(plan([]).steps, []);
});

test('platform argv functions are pure', () => {
  assert.deepEqual(linux.mountArgv({ dataset: 'tank/a b', snapshot: 's', mountpoint: '/x', target: '/k/x' }), ['mount', '-t', 'zfs', '-o', 'ro', 'tank/a b@s', '/k/x']);
  assert.deepEqual(freebsd.mountArgv({ dataset: 'tank/a', snapshot: 's', mountpoint: '/x y', target: '/k/x y' }), ['mount', '-t', 'nullfs', '-o', 'ro', '/x y/.zfs/snapshot/s', '/k/x y']);
  assert.deepEqual(freebsd.mountArgv({ dataset: 'zroot', snapshot: 's', mountpoint: '/', target: '/k' }), ['mount', '-t', 'nullfs', '-o', 'ro', '/.zfs/snapshot/s', '/k']);
  assert.deepEqual(linux.umountArgv('/k/x'), ['umount', '/k/x']);
  assert.deepEqual(freebsd.umountArgv('/k/x'), ['umount', '/k/x']);
  assert.equal(linux.hasMountNamespaces, true);
  assert.equal(freebsd.hasMountNamespaces, false);
  const p: Platform[] = [linux, freebsd];
  assert.deepEqual(p.map((x) => x.stateDir), ['/run/kopiatomic', '/var/run/kopiatomic']);
});
