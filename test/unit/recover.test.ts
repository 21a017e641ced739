import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, type FailureReason } from '../../src/core/errors.js';
import type { ExecResult } from '../../src/core/exec.js';
import type { MountEntry } from '../../src/zfs/mount-table.js';
import { linux } from '../../src/platform/linux.js';
import type { Platform } from '../../src/platform/platform.js';
import { Journal, readKnown, writeKnown } from '../../src/safety/journal.js';
import { mountRootProblem, recover, type RecoverOptions } from '../../src/safety/recover.js';
import { proofFor } from '../../src/plan/proof-value.js';
import { runTime } from '../../src/safety/proof.js';
import { FakeRunner, quietReporter } from './helpers.js';

/** The proof key every test's host has (beside its journal). */
const KEY = Buffer.alloc(32, 7);
/** The `zfs get` line of a snapshot's proof, made with KEY. */
const proofLine = (name: string, run: string, owner: string, key: Buffer = KEY) => {
  const [ds, snap] = name.split('@') as [string, string];
  return `${name}\tkopiatomic:proof\t${proofFor(key, ds.split('/')[0]!, snap, run, owner)}\tlocal`;
};

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const fail = (argv: readonly string[], reason: FailureReason, stderr = '') => new CommandError(argv, reason === 'program-missing' ? 127 : 1, null, stderr, reason);

function tmp(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-recover-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fakePlatform(dir: string, mounts: () => MountEntry[]): Platform {
  return { ...linux, stateDir: `${dir}/state`, journalDir: `${dir}/journal`, readMounts: async () => mounts(), hostId: async () => 'h1' };
}

function opts(dir: string, runner: FakeRunner, platform: Platform, extra: Partial<RecoverOptions> = {}) {
  const { reporter, lines } = quietReporter();
  mkdirSync(`${dir}/journal`, { recursive: true });
  writeFileSync(`${dir}/journal/proof.key`, KEY.toString('hex') + '\n', { mode: 0o600 });
  const o: RecoverOptions = { runner, reporter, platform, mountRoot: `${dir}/root`, journal: `${dir}/journal/j`, boot: 'boot-now', host: 'h1', scan: 'journals', ...extra };
  return { o, lines };
}

/** `zfs get` lines of one snapshot's ownership properties, set locally. */
const owned = (name: string, run: string, owner: string) => `${name}\tkopiatomic:run\t${run}\tlocal\n${name}\tkopiatomic:owner\t${owner}\tlocal\n`;
const mountEntry = (source: string, target: string, root = '/'): MountEntry => ({ source, target, fstype: 'zfs', root });
const cmd = (c: { argv: readonly string[] }) => c.argv.join(' ');

// A zfs that knows a set of snapshots, holds and clones, and answers like OpenZFS.
function fakeZfs(state: { snaps: Set<string>; held: Set<string>; cloned?: Set<string>; get?: string; missing?: boolean; lie?: boolean }) {
  return (argv: readonly string[]): ExecResult | Error => {
    if (state.missing && argv[0] === 'zfs') return fail(argv, 'program-missing');
    const a = argv.join(' ');
    if (a.startsWith('zfs get')) {
      // Without a given answer: our run and owner properties, set locally on each of our snapshots.
      const all = state.get ?? [...state.snaps].flatMap((n) => (/@kopiatomic-(.+)$/.test(n) ? [`${n}\tkopiatomic:run\t${n.split('@kopiatomic-')[1]}\tlocal`, `${n}\tkopiatomic:owner\th1:boot-old:1\tlocal`, proofLine(n, n.split('@kopiatomic-')[1]!, 'h1:boot-old:1')] : [])).join('\n');
      const names = argv.slice(11);
      return ok(names.length ? all.split('\n').filter((l) => names.includes(l.split('\t')[0]!)).join('\n') : all);
    }
    if (a.startsWith('zfs list -H -p -o name,creation -t snapshot ')) {
      // Made a few seconds after its run started (the run id's time).
      return ok(argv.slice(8).filter((n) => state.snaps.has(n)).map((n) => `${n}\t${(runTime(n.split('@kopiatomic-')[1] ?? '') ?? 0) + 5}\n`).join(''));
    }
    if (a.startsWith('zfs list -H -o name -t snapshot ')) {
      const have = argv.slice(7).filter((n) => state.snaps.has(n));
      return { code: have.length === argv.length - 7 ? 0 : 1, stdout: have.map((n) => n + '\n').join(''), stderr: '' };
    }
    // Identity: a guid made from the name, one createtxg.
    const guid = (n: string) => String([...n].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1000000007, 7));
    const rows = (names: string[]) => names.filter((n) => state.snaps.has(n)).map((n) => `${n}\t${guid(n)}\t5\n`).join('');
    if (a.startsWith('zfs list -H -p -t snapshot -o name,guid,createtxg -r ')) return ok(rows([...state.snaps].filter((n) => n.startsWith(`${argv[9]}/`) || n.startsWith(`${argv[9]}@`))));
    if (a.startsWith('zfs list -H -p -t snapshot -o name,guid,createtxg ')) {
      const names = argv.slice(8);
      return { code: names.every((n) => state.snaps.has(n)) ? 0 : 1, stdout: rows(names), stderr: '' };
    }
    if (argv[1] === 'program') {
      const names = argv.slice(argv.indexOf('-') + 3).filter((_, i) => i % 3 === 0);
      if (names.some((n) => !state.snaps.has(n) || state.held.has(n) || state.cloned?.has(n))) return fail(argv, 'failed', 'Channel program execution failed');
      if (!state.lie) for (const n of names) state.snaps.delete(n);
      return ok(JSON.stringify({ return: { destroyed: names.length } }));
    }
    if (a.startsWith('zfs holds -H ')) return ok(argv.slice(3).filter((n) => state.held.has(n)).map((n) => `${n}\tkopiatomic\tFri Nov 27 10:41 2026\n`).join(''));
    if (a.startsWith('zfs release kopiatomic ')) {
      for (const n of argv.slice(3)) state.held.delete(n);
      return ok();
    }
    if (argv[0] === 'zfs' && argv[1] === 'destroy') {
      const rec = argv[2] === '-r';
      const target = argv[argv.length - 1]!;
      const [root, snap] = target.split('@') as [string, string];
      const hit = [...state.snaps].filter((n) => (rec ? n.endsWith('@' + snap) && (n.startsWith(root + '/') || n.startsWith(root + '@')) : n === target));
      if (!hit.length) return fail(argv, 'not-found', 'could not find any snapshots to destroy; check snapshot names.');
      const blocked = hit.find((n) => state.held.has(n) || state.cloned?.has(n));
      if (blocked) return fail(argv, 'failed', `cannot destroy '${blocked}': snapshot has dependent clones`);
      if (!state.lie) for (const n of hit) state.snaps.delete(n);
      return ok();
    }
    if (argv[0] === 'umount') return ok();
    return new Error(`unexpected command: ${a}`);
  };
}

test('recover: only snapshots proven ours are released and destroyed (local, this host, named after the run, run dead)', async (t) => {
  const dir = tmp(t);
  const get = [
    ['t/a@kopiatomic-20261127T104100Z-1-ab', 'kopiatomic:run', '20261127T104100Z-1-ab', 'local'],
    ['t/a@kopiatomic-20261127T104100Z-1-ab', 'kopiatomic:owner', 'h1:boot-old:4242', 'local'],
    [proofLine('t/a@kopiatomic-20261127T104100Z-1-ab', '20261127T104100Z-1-ab', 'h1:boot-old:4242')],
    ['b/a@kopiatomic-20261127T104100Z-1-ab', 'kopiatomic:run', '20261127T104100Z-1-ab', 'received'],
    ['b/a@kopiatomic-20261127T104100Z-1-ab', 'kopiatomic:owner', 'h1:boot-old:4242', 'received'],
    ['t/c@kopiatomic-20261127T104100Z-2-ab', 'kopiatomic:run', '20261127T104100Z-2-ab', 'local'],
    ['t/c@kopiatomic-20261127T104100Z-2-ab', 'kopiatomic:owner', 'h2:boot-old:1', 'local'],
    ['t/d@kopiatomic-20261127T104100Z-3-ab', 'kopiatomic:run', '20261127T104100Z-3-ab', 'local'],
    ['t/d@kopiatomic-20261127T104100Z-3-ab', 'kopiatomic:owner', `h1:boot-now:${process.pid}`, 'local'],
    ['t/e@mine', 'kopiatomic:run', '20261127T104100Z-4-ab', 'local'],
    ['t/e@mine', 'kopiatomic:owner', 'h1:boot-old:1', 'local'],
    ['t/f@kopiatomic-20261127T104100Z-5-ab', 'kopiatomic:run', '20261127T104100Z-5-ab', 'inherited from t/f'],
  ]
    .map((l) => l.join('\t'))
    .join('\n');
  const state = { snaps: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab', 'b/a@kopiatomic-20261127T104100Z-1-ab', 't/c@kopiatomic-20261127T104100Z-2-ab', 't/d@kopiatomic-20261127T104100Z-3-ab', 't/e@mine', 't/f@kopiatomic-20261127T104100Z-5-ab']), held: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab', 't/d@kopiatomic-20261127T104100Z-3-ab']), get };
  const runner = new FakeRunner(fakeZfs(state));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []), { scan: 'all' });
  const r = await recover(o);
  assert.deepEqual(r.leftovers, []);
  const mutating = runner.calls.filter((c) => /^zfs (release|destroy|program)/.test(cmd(c))).map((c) => c.argv.slice(0, 7).join(' '));
  // The owner the scan read goes into the destroy program, which checks it and the run again in the transaction.
  assert.deepEqual(mutating, ['zfs release kopiatomic t/a@kopiatomic-20261127T104100Z-1-ab', 'zfs program -j t - 20261127T104100Z-1-ab h1:boot-old:4242']);
  assert.deepEqual([...state.snaps].sort(), ['b/a@kopiatomic-20261127T104100Z-1-ab', 't/c@kopiatomic-20261127T104100Z-2-ab', 't/d@kopiatomic-20261127T104100Z-3-ab', 't/e@mine', 't/f@kopiatomic-20261127T104100Z-5-ab']);
  assert.equal(runner.calls.filter((c) => cmd(c).startsWith('zfs get')).length, 2, 'one listing finds them; one proves them again just before the destroy');
});

test('recover: "zfs is not installed" is an error (a leftover), never "already gone"; the entry is remembered, not retried by the next run', async (t) => {
  const dir = tmp(t);
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  j.willDo('destroy', { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 't@kopiatomic-20261127T104100Z-1-ab'] }, { snapshots: ['t/a@kopiatomic-20261127T104100Z-1-ab'], roots: ['t@kopiatomic-20261127T104100Z-1-ab'] });
  j.close(false);
  const state: Parameters<typeof fakeZfs>[0] = { snaps: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab']), held: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab']), missing: true };
  const runner = new FakeRunner(fakeZfs(state));
  const p = fakePlatform(dir, () => []);
  const { o, lines } = opts(dir, runner, p);
  const r = await recover(o);
  assert.equal(r.leftovers.length, 1);
  assert.match(r.leftovers[0]!.reason, /not installed/);
  assert.ok(lines.some((l) => /warning: left behind/.test(l)));
  assert.equal(readKnown(`${dir}/journal/${encodeURIComponent(`${dir}/root`)}.leftovers`).length, 1, 'remembered beside the journal');

  // The next run: zfs is back, but a known leftover is only reported (no command), and the scan skips it.
  state.missing = false;
  state.get = `t/a@kopiatomic-20261127T104100Z-1-ab\tkopiatomic:run\t20261127T104100Z-1-ab\tlocal\nt/a@kopiatomic-20261127T104100Z-1-ab\tkopiatomic:owner\th1:boot-old:9\tlocal\n${proofLine('t/a@kopiatomic-20261127T104100Z-1-ab', '20261127T104100Z-1-ab', 'h1:boot-old:9')}\n`;
  const runner2 = new FakeRunner(fakeZfs(state));
  const { o: o2, lines: lines2 } = opts(dir, runner2, p, { scan: 'all' });
  const r2 = await recover(o2);
  assert.equal(r2.leftovers.length, 1);
  assert.ok(lines2.some((l) => /known leftover/.test(l)));
  assert.deepEqual(runner2.calls.map(cmd), [`zfs get -H -p -o name,property,value,source -s local -t snapshot kopiatomic:run,kopiatomic:owner,kopiatomic:proof`]);

  // cleanup retries it: now it goes.
  const runner3 = new FakeRunner(fakeZfs(state));
  const { o: o3 } = opts(dir, runner3, p, { scan: 'all', retryKnown: true });
  const r3 = await recover(o3);
  assert.deepEqual(r3.leftovers, []);
  assert.equal(state.snaps.size, 0);
  assert.equal(existsSync(`${dir}/journal/${encodeURIComponent(`${dir}/root`)}.leftovers`), false);
});

test('recover: a cloned snapshot is a leftover; the rest of its run is destroyed; recovery goes on', async (t) => {
  const dir = tmp(t);
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  const snaps = ['t/a@kopiatomic-20261127T104100Z-1-ab', 't/b@kopiatomic-20261127T104100Z-1-ab'];
  j.willDo('destroy', { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 't@kopiatomic-20261127T104100Z-1-ab'] }, { snapshots: snaps, roots: ['t@kopiatomic-20261127T104100Z-1-ab'] });
  j.willDo('release', { kind: 'exec', mutates: true, argv: ['zfs', 'release', '-r', 'kopiatomic', 't@kopiatomic-20261127T104100Z-1-ab'] }, { snapshots: snaps });
  j.close(false);
  const state = { snaps: new Set(snaps), held: new Set(snaps), cloned: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab']) };
  const runner = new FakeRunner(fakeZfs(state));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []));
  const r = await recover(o);
  assert.deepEqual(r.leftovers, [{ what: 'snapshot t/a@kopiatomic-20261127T104100Z-1-ab', reason: "cannot destroy 't/a@kopiatomic-20261127T104100Z-1-ab': snapshot has dependent clones" }]);
  assert.deepEqual([...state.snaps], ['t/a@kopiatomic-20261127T104100Z-1-ab']);
  assert.equal(state.held.size, 0, 'our holds are released');
});

test('recover: folders are removed only when the journal says a run made them; the user\'s stay', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  mkdirSync(`${root}/made/deeper`, { recursive: true });
  mkdirSync(`${root}/user/empty`, { recursive: true });
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  j.willDo('rmdir', { kind: 'rmdir', path: root });
  j.willDo('rmdir', { kind: 'rmdir', path: `${root}/made` });
  j.willDo('rmdir', { kind: 'rmdir', path: `${root}/made/deeper` });
  j.willDo('rmdir', { kind: 'rmdir', path: `${dir}/outside` }); // never outside the root, whatever the journal says
  j.close(false);
  mkdirSync(`${dir}/outside`);
  const runner = new FakeRunner(() => new Error('no command expected'));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []));
  const r = await recover(o);
  assert.equal(existsSync(`${root}/made`), false);
  assert.ok(existsSync(`${root}/user/empty`), 'the user\'s empty folder stays');
  assert.ok(existsSync(`${dir}/outside`));
  assert.deepEqual(r.leftovers, [{ what: `remove directory ${root} (rmdir left by run 20261127T104100Z-1-ab)`, reason: 'it is not empty (something was put in it)' }]);
});

test('recover: a mount root that is a symlink is not touched; a bind mount under the root is neither unmounted nor walked into', async (t) => {
  const dir = tmp(t);
  mkdirSync(`${dir}/elsewhere/made`, { recursive: true });
  symlinkSync(`${dir}/elsewhere`, `${dir}/root`);
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  j.willDo('rmdir', { kind: 'rmdir', path: `${dir}/root/made` });
  j.close(false);
  const runner = new FakeRunner(() => new Error('no command expected'));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []));
  const r = await recover(o);
  assert.ok(existsSync(`${dir}/elsewhere/made`));
  assert.match(r.leftovers[0]!.reason, /symbolic link/);

  const dir2 = tmp(t);
  mkdirSync(`${dir2}/root/bind`, { recursive: true });
  const table = [mountEntry('t/a@kopiatomic-20261127T104100Z-1-ab', `${dir2}/root/bind`, '/sub'), mountEntry('t/b@kopiatomic-20261127T104100Z-1-ab', `${dir2}/root/b`), mountEntry('t/c@daily', `${dir2}/root/c`)];
  const runner2 = new FakeRunner((argv) => (argv[0] === 'umount' ? ok() : argv[1] === 'get' ? ok(owned('t/b@kopiatomic-20261127T104100Z-1-ab', '20261127T104100Z-1-ab', 'h1:boot-old:1')) : new Error('unexpected')));
  const { o: o2 } = opts(dir2, runner2, fakePlatform(dir2, () => table));
  await recover(o2);
  assert.deepEqual(runner2.calls.map(cmd).filter((c) => c.startsWith('umount')), [`umount ${dir2}/root/b`], 'only our own snapshot mount');
});

test('recover: a journaled unmount whose mount is gone, and a destroy whose snapshots are gone, are done (not leftovers)', async (t) => {
  const dir = tmp(t);
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  j.willDo('destroy', { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 't@kopiatomic-20261127T104100Z-1-ab'] }, { snapshots: ['t@kopiatomic-20261127T104100Z-1-ab'], roots: ['t@kopiatomic-20261127T104100Z-1-ab'] });
  j.willDo('umount', { kind: 'exec', mutates: true, argv: ['umount', `${dir}/root/t`] }, { target: `${dir}/root/t`, source: 't@kopiatomic-20261127T104100Z-1-ab' });
  j.close(false);
  const runner = new FakeRunner(fakeZfs({ snaps: new Set(), held: new Set() }));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []));
  const r = await recover(o);
  assert.deepEqual(r.leftovers, []);
  assert.deepEqual(runner.calls.map(cmd), ['zfs list -H -p -t snapshot -o name,guid,createtxg t@kopiatomic-20261127T104100Z-1-ab']);
});

test('recover: a dead run\'s journal (mkdir, mkdir, mount): unmount, then its folders go; nothing left over', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  mkdirSync(`${root}/t`, { recursive: true });
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  j.willDo('destroy', { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 't@kopiatomic-20261127T104100Z-1-ab'] }, { snapshots: ['t@kopiatomic-20261127T104100Z-1-ab'], roots: ['t@kopiatomic-20261127T104100Z-1-ab'] });
  j.willDo('release', { kind: 'exec', mutates: true, argv: ['zfs', 'release', '-r', 'kopiatomic', 't@kopiatomic-20261127T104100Z-1-ab'] }, { snapshots: ['t@kopiatomic-20261127T104100Z-1-ab'] });
  j.willDo('rmdir', { kind: 'rmdir', path: root });
  j.willDo('rmdir', { kind: 'rmdir', path: `${root}/t` });
  j.willDo('umount', { kind: 'exec', mutates: true, argv: ['umount', `${root}/t`] }, { target: `${root}/t`, source: 't@kopiatomic-20261127T104100Z-1-ab' });
  j.close(false);
  let table = [mountEntry('t@kopiatomic-20261127T104100Z-1-ab', `${root}/t`)];
  const state = { snaps: new Set(['t@kopiatomic-20261127T104100Z-1-ab']), held: new Set(['t@kopiatomic-20261127T104100Z-1-ab']), get: owned('t@kopiatomic-20261127T104100Z-1-ab', '20261127T104100Z-1-ab', 'h1:boot-old:1') };
  const zfs = fakeZfs(state);
  const runner = new FakeRunner((argv) => {
    if (argv[0] === 'umount') table = table.filter((m) => m.target !== argv[1]);
    return zfs(argv);
  });
  const { o } = opts(dir, runner, fakePlatform(dir, () => table));
  const r = await recover(o);
  assert.deepEqual(r.leftovers, []);
  assert.equal(existsSync(root), false);
  assert.equal(state.snaps.size, 0);
  assert.deepEqual(runner.calls.map(cmd), [
    'zfs get -H -p -o name,property,value,source -s local -t snapshot kopiatomic:run,kopiatomic:owner t@kopiatomic-20261127T104100Z-1-ab',
    `umount ${root}/t`,
    'zfs list -H -p -t snapshot -o name,guid,createtxg t@kopiatomic-20261127T104100Z-1-ab',
    'zfs get -H -p -o name,property,value,source -s local -t snapshot kopiatomic:run,kopiatomic:owner t@kopiatomic-20261127T104100Z-1-ab',
    'zfs holds -H t@kopiatomic-20261127T104100Z-1-ab',
    'zfs release kopiatomic t@kopiatomic-20261127T104100Z-1-ab',
    'zfs destroy t@kopiatomic-20261127T104100Z-1-ab', // never -r: an older journal's destroy roots are ignored
    'zfs list -H -p -t snapshot -o name,guid,createtxg t@kopiatomic-20261127T104100Z-1-ab',
  ]);
});

test('recover: without a full scan, other mount roots\' journals name the candidates: a dead run\'s snapshots go, a live run\'s stay, no zfs call lists every snapshot', async (t) => {
  const dir = tmp(t);
  const journalFor = (root: string, run: string, snaps: string[]) => {
    const j = new Journal(`${dir}/journal/${encodeURIComponent(root)}.journal`, run);
    j.willDo('destroy', { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', `t@kopiatomic-${run}`] }, { snapshots: snaps, roots: [`t@kopiatomic-${run}`] });
    j.close(false);
  };
  journalFor('/other-dead', '20261127T104100Z-1-ab', ['t/a@kopiatomic-20261127T104100Z-1-ab']);
  journalFor('/other-live', '20261127T104100Z-2-ab', ['t/b@kopiatomic-20261127T104100Z-2-ab']);
  const get = [
    ['t/a@kopiatomic-20261127T104100Z-1-ab', 'kopiatomic:run', '20261127T104100Z-1-ab', 'local'],
    ['t/a@kopiatomic-20261127T104100Z-1-ab', 'kopiatomic:owner', 'h1:boot-now:999999999', 'local'],
    ['t/b@kopiatomic-20261127T104100Z-2-ab', 'kopiatomic:run', '20261127T104100Z-2-ab', 'local'],
    ['t/b@kopiatomic-20261127T104100Z-2-ab', 'kopiatomic:owner', `h1:boot-now:${process.pid}`, 'local'],
  ]
    .map((l) => l.join('\t'))
    .join('\n');
  const state = { snaps: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab', 't/b@kopiatomic-20261127T104100Z-2-ab', 't/z@autosnap']), held: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab', 't/b@kopiatomic-20261127T104100Z-2-ab']), get };
  const runner = new FakeRunner(fakeZfs(state));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []), { journal: `${dir}/journal/${encodeURIComponent(`${dir}/root`)}.journal` });
  const r = await recover(o);
  assert.deepEqual(r.leftovers, []);
  assert.deepEqual([...state.snaps].sort(), ['t/b@kopiatomic-20261127T104100Z-2-ab', 't/z@autosnap'], 'the dead run\'s snapshot is gone; the live run\'s and the foreign one stay');
  const gets = runner.calls.filter((c) => cmd(c).startsWith('zfs get'));
  assert.equal(gets.length, 2, 'one to find the candidates, one to prove them again before the destroy');
  assert.deepEqual(gets[0]!.argv.slice(-2).sort(), ['t/a@kopiatomic-20261127T104100Z-1-ab', 't/b@kopiatomic-20261127T104100Z-2-ab'], 'asked about the journaled snapshots only');
});

test('recover: with nothing in other journals, the journals mode runs no zfs command at all', async (t) => {
  const dir = tmp(t);
  const runner = new FakeRunner(fakeZfs({ snaps: new Set(['t/z@autosnap']), held: new Set() }));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []));
  const r = await recover(o);
  assert.deepEqual(r.leftovers, []);
  assert.deepEqual(runner.calls.map(cmd), []);
});

test('known leftovers live beside the journal; a mount seen in an earlier boot is dropped (a reboot unmounted it), a snapshot stays', (t) => {
  const dir = tmp(t);
  const path = `${dir}/k.leftovers`;
  writeKnown(path, [
    { what: 'unmount /r/a', reason: 'busy', since: 'x', mount: '/r/a', boot: 'boot-old' },
    { what: 'unmount /r/b', reason: 'busy', since: 'x', mount: '/r/b', boot: 'boot-now' },
    { what: 'snapshot t/a@kopiatomic-20261127T104100Z-1-ab', reason: 'clone', since: 'x', snapshots: ['t/a@kopiatomic-20261127T104100Z-1-ab'], boot: 'boot-old' },
  ]);
  assert.deepEqual(readKnown(path, 'boot-now').map((k) => k.what), ['unmount /r/b', 'snapshot t/a@kopiatomic-20261127T104100Z-1-ab']);
});

test('mountRootProblem: absent is fine; a symlink, a file, another owner, or writable by others is refused', (t) => {
  const dir = tmp(t);
  assert.equal(mountRootProblem(`${dir}/absent`), null);
  mkdirSync(`${dir}/ok`, { mode: 0o700 });
  assert.equal(mountRootProblem(`${dir}/ok`), null);
  symlinkSync(`${dir}/ok`, `${dir}/link`);
  assert.match(mountRootProblem(`${dir}/link`)!, /symbolic link/);
  writeFileSync(`${dir}/file`, '');
  assert.match(mountRootProblem(`${dir}/file`)!, /not a directory/);
  if (process.getuid?.() === 0) {
    mkdirSync(`${dir}/theirs`, { mode: 0o700 });
    chownSync(`${dir}/theirs`, 65534, 65534);
    assert.match(mountRootProblem(`${dir}/theirs`)!, /owned by uid 65534/);
  }
  mkdirSync(`${dir}/open`);
  chmodSync(`${dir}/open`, 0o777);
  assert.match(mountRootProblem(`${dir}/open`)!, /writable by others/);
});

test('recover: a live run\'s mounts under the mount root (a nested mount root) are left alone, without a warning; a dead run\'s go; an unprovable one is a leftover', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  mkdirSync(root, { recursive: true });
  let table = [
    mountEntry('t/a@kopiatomic-LIVE', `${root}/inner/t/a`),
    mountEntry('t/b@kopiatomic-DEAD', `${root}/t/b`),
    mountEntry('t/c@kopiatomic-ODD', `${root}/t/c`),
    mountEntry('t/d@kopiatomic-REUSED', `${root}/t/d`),
  ];
  const get =
    owned('t/a@kopiatomic-LIVE', 'LIVE', `h1:boot-now:${process.pid}`) +
    owned('t/b@kopiatomic-DEAD', 'DEAD', 'h1:boot-now:999999999') +
    // a pid that is alive now, maybe reused: it cannot be proven dead, so it stays
    owned('t/d@kopiatomic-REUSED', 'REUSED', 'h1:boot-now:1');
  const runner = new FakeRunner((argv) => {
    if (argv[0] === 'umount') {
      table = table.filter((m) => m.target !== argv[1]);
      return ok();
    }
    if (argv[1] === 'get') return ok(get);
    return new Error(`unexpected: ${argv.join(' ')}`);
  });
  const { o, lines } = opts(dir, runner, fakePlatform(dir, () => table), { scan: 'journals' });
  const r = await recover(o);
  assert.deepEqual(runner.calls.map(cmd).filter((c) => c.startsWith('umount')), [`umount ${root}/t/b`]);
  assert.equal(runner.calls.filter((c) => cmd(c).startsWith('zfs get')).length, 1, 'one zfs get judges every mount');
  assert.deepEqual(r.leftovers.map((l) => l.what), [`unmount ${root}/t/c`], 'only the unprovable mount is a leftover');
  assert.match(r.leftovers[0]!.reason, /not proven/);
  assert.ok(!lines.some((l) => l.includes('inner')), 'nothing is said about the live run\'s mounts');
});

test('recover: the journal\'s unmount is not run when something else is mounted over the target', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  mkdirSync(root, { recursive: true });
  const j = new Journal(`${dir}/journal/j`, '20261127T104100Z-1-ab');
  j.willDo('umount', { kind: 'exec', mutates: true, argv: ['umount', `${root}/t`] }, { target: `${root}/t`, source: 't@kopiatomic-20261127T104100Z-1-ab' });
  j.close(false);
  const table = [mountEntry('t@kopiatomic-20261127T104100Z-1-ab', `${root}/t`), { source: 'tmpfs', target: `${root}/t`, fstype: 'tmpfs', root: '/' }];
  const runner = new FakeRunner((argv) => (argv[1] === 'get' ? ok(owned('t@kopiatomic-20261127T104100Z-1-ab', '20261127T104100Z-1-ab', 'h1:boot-old:1')) : new Error(`unexpected: ${argv.join(' ')}`)));
  const { o } = opts(dir, runner, fakePlatform(dir, () => table));
  const r = await recover(o);
  assert.equal(runner.calls.filter((c) => c.argv[0] === 'umount').length, 0);
  assert.match(r.leftovers[0]!.reason, /tmpfs is mounted over it/);
});

test('recover: the owner of a stale lock taken over is dead even if its pid is alive now (reused): its mounts go', async (t) => {
  const dir = tmp(t);
  const root = `${dir}/root`;
  mkdirSync(root, { recursive: true });
  let table = [mountEntry('t/a@kopiatomic-OLD', `${root}/t/a`)];
  const runner = new FakeRunner((argv) => {
    if (argv[0] === 'umount') {
      table = table.filter((m) => m.target !== argv[1]);
      return ok();
    }
    return argv[1] === 'get' ? ok(owned('t/a@kopiatomic-OLD', 'OLD', 'h1:boot-now:1')) : new Error(`unexpected: ${argv.join(' ')}`);
  });
  const { o } = opts(dir, runner, fakePlatform(dir, () => table));
  await recover(o);
  assert.equal(table.length, 1, 'pid 1 is alive: without more proof the mount stays');
  await recover({ ...o, deadOwner: { pid: 1, boot: 'boot-now' } });
  assert.equal(table.length, 0, 'the lock takeover proved that run dead');
});

test('recover, scan of every pool: a snapshot whose proof does not verify (forged by a delegated user, or made before proofs) is reported with the command to remove it, never touched', async (t) => {
  const dir = tmp(t);
  const run = '20261127T104100Z-9-ab';
  const [ours, forged, old, copied] = ['t/a', 't/u', 't/o', 'u/x'].map((d) => `${d}@kopiatomic-${run}`) as [string, string, string, string];
  const lines = (n: string, proof: string | null) => [`${n}\tkopiatomic:run\t${run}\tlocal`, `${n}\tkopiatomic:owner\th1:boot-old:9\tlocal`, ...(proof ? [proof] : [])];
  const get = [
    ...lines(ours, proofLine(ours, run, 'h1:boot-old:9')),
    ...lines(forged, proofLine(forged, run, 'h1:boot-old:9', Buffer.alloc(32, 1))),
    ...lines(old, null),
    // A proof read from pool t and copied onto a snapshot in pool u.
    ...lines(copied, proofLine(ours, run, 'h1:boot-old:9').replace(ours, copied)),
  ].join('\n');
  const state = { snaps: new Set([ours, forged, old, copied]), held: new Set([old]), get };
  const runner = new FakeRunner(fakeZfs(state));
  const { o, lines: out } = opts(dir, runner, fakePlatform(dir, () => []), { scan: 'all', retryKnown: true });
  const r = await recover(o);
  assert.deepEqual([...state.snaps].sort(), [copied, old, forged].sort());
  assert.deepEqual(r.leftovers.map((l) => l.what).sort(), [`snapshot ${copied}`, `snapshot ${forged}`, `snapshot ${old}`].sort());
  assert.match(r.leftovers.find((l) => l.what === `snapshot ${old}`)!.reason, new RegExp(`no kopiatomic:proof.*zfs release kopiatomic ${old}; zfs destroy ${old}`));
  assert.match(r.leftovers.find((l) => l.what === `snapshot ${forged}`)!.reason, /does not verify/);
  assert.ok(out.some((l) => /warning: left behind/.test(l)));
  assert.ok(!runner.calls.some((c) => c.argv.includes(forged) && /^zfs (release|destroy|program)/.test(cmd(c))), 'the forged one is never released or destroyed');
  assert.ok(!runner.calls.some((c) => c.argv.includes(old) && /^zfs (release|destroy|program)/.test(cmd(c))));
});

test('recover, scan of every pool: without a trusted key nothing found by the scan is destroyed', async (t) => {
  const dir = tmp(t);
  const state = { snaps: new Set(['t/a@kopiatomic-20261127T104100Z-1-ab']), held: new Set<string>() };
  const runner = new FakeRunner(fakeZfs(state));
  const { o } = opts(dir, runner, fakePlatform(dir, () => []), { scan: 'all' });
  chmodSync(`${dir}/journal/proof.key`, 0o644);
  const r = await recover(o);
  assert.equal(state.snaps.size, 1);
  assert.match(r.leftovers[0]!.reason, /no proof key.*can be read by other accounts|can be read by other accounts/);
});
