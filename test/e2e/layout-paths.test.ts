// --layout paths, end to end (issue 5). restic: every dataset is backed up
// under its real mount point from inside a private mount namespace, so
// restic's parent detection and restores use the real paths, and nothing
// outside the namespace ever sees a snapshot mount. kopia: one
// `kopia snapshot create --override-source` per dataset (runs only where a
// kopia binary is on PATH).
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseMountinfo } from '../../src/zfs/mount-table.js';
import { which } from '../../src/core/which.js';
import { CLEAN, events, KOPIATOMIC, leftovers, Pool, RESTOMIC, restic, resticRepo, run, scratchDir, sh, summary, type ExecResult } from './lib.js';

const MOUNT_ROOT = '/kt-paths';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(path: string, what: string, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Mounts of our snapshots in any process's view: after a run there must be none anywhere. */
function snapshotMountsAnywhere(pool: Pool): string[] {
  const out = new Set<string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue; // the process is gone
    }
    for (const m of parseMountinfo(text)) {
      if (m.source.startsWith(pool.name) && m.source.includes('@kopiatomic')) out.add(`${m.source} on ${m.target} (pid ${pid})`);
    }
  }
  return [...out];
}

/**
 * Stands in for `restic`: for `backup`, records the namespace's mount table
 * and waits for the test before running the real restic, so the test can
 * change live files and look at the system while the snapshots are mounted.
 */
function gatedRestic(): { bin: string; gate: string } {
  const dir = scratchDir('bin');
  const gate = scratchDir('gate');
  const bin = join(dir, 'restic');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      'if [ "$1" = backup ] && [ -n "$KT_GATE" ]; then',
      '  cat /proc/self/mountinfo > "$KT_GATE/inside.tmp" && mv "$KT_GATE/inside.tmp" "$KT_GATE/inside"',
      '  while [ ! -e "$KT_GATE/go" ]; do sleep 0.1; done',
      'fi',
      'exec restic "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(bin, 0o755);
  return { bin, gate };
}

/**
 * The backup's recorded time is the ZFS snapshot's creation time: whole
 * seconds, after the run planned and before the engine started.
 */
function assertSnapshotTime(ms: number, r: ExecResult): void {
  const planned = Date.parse(String(events(r, 'plan')[0]?.['time']));
  const started = Date.parse(String(events(r, 'backup-start')[0]?.['time']));
  assert.equal(ms % 1000, 0, `whole seconds: ${new Date(ms).toISOString()}`);
  assert.ok(ms >= Math.floor(planned / 1000) * 1000 && ms <= started, `${new Date(ms).toISOString()} is between ${new Date(planned).toISOString()} and ${new Date(started).toISOString()}`);
}

interface ResticSnapshot {
  id: string;
  short_id: string;
  paths: string[];
  tags?: string[];
  parent?: string;
  time: string;
}

test('restic --layout paths: real paths, parent, restore of the frozen state, mounts invisible outside, nothing left', async (t) => {
  const pool = Pool.create(['a', 'b', 'b/nested']).destroyAfter(t);
  writeFileSync(pool.path('a/file1'), 'one\n');
  writeFileSync(pool.path('b/file2'), 'two\n');
  writeFileSync(pool.path('b/nested/file3'), 'three\n');
  const repo = resticRepo();
  const { bin, gate } = gatedRestic();
  const args = ['--json', '--layout', 'paths', '--mount-root', MOUNT_ROOT, '-c', `${bin} backup`, '-r', pool.ds('a'), pool.ds('b')];

  // Outside the namespace, all through the backup: never a snapshot mount.
  const seenOutside: string[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const m of parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
        if (m.source.startsWith(pool.name) && m.source.includes('@')) seenOutside.push(`${m.source} on ${m.target}`);
      }
      await sleep(20);
    }
  })();

  // ---- run 1, gated: live files change after the snapshot, before restic reads them
  const run1 = run(RESTOMIC, args, { env: { ...repo, KT_GATE: gate } });
  await waitFor(join(gate, 'inside'), 'restic to start inside the namespace');
  const inside = parseMountinfo(readFileSync(join(gate, 'inside'), 'utf8')).filter((m) => m.source.startsWith(pool.name + '/'));
  const snapInside = inside.filter((m) => m.source.includes('@kopiatomic'));
  assert.deepEqual(
    snapInside.map((m) => m.target).sort(),
    [pool.path('a'), pool.path('b'), pool.path('b/nested')],
    `inside the namespace the snapshots are mounted over the real mount points: ${JSON.stringify(inside)}`,
  );
  // Another process outside (not only this one) sees only live datasets.
  const outsideNow = parseMountinfo(sh('cat', '/proc/self/mountinfo')).filter((m) => m.source.startsWith(pool.name));
  assert.deepEqual(outsideNow.filter((m) => m.source.includes('@')), [], 'a process outside sees no snapshot mount');
  assert.ok(outsideNow.some((m) => m.source === pool.ds('a') && m.target === pool.path('a')), 'the live dataset is still mounted outside');
  writeFileSync(pool.path('a/file1'), 'changed during the backup\n');
  writeFileSync(pool.path('a/new'), 'created during the backup\n');
  rmSync(pool.path('b/file2'));
  assert.equal(readFileSync(pool.path('a/file1'), 'utf8'), 'changed during the backup\n', 'outside, the live file is writable and live');
  assert.equal(sh('cat', pool.path('a/new')), 'created during the backup\n');
  writeFileSync(join(gate, 'go'), '');
  const r1 = await run1;
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(summary(r1)?.['status'], 'ok');
  const snapName = String(summary(r1)?.['snapshot']);
  const start = events(r1, 'backup-start')[0]?.['argv'] as string[];
  assert.deepEqual(start.slice(0, 4), ['unshare', '--mount', '--propagation', 'private'], 'restic runs in a private mount namespace');
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
  assert.deepEqual(snapshotMountsAnywhere(pool), [], 'the namespace and its mounts are gone');
  assert.ok(!existsSync(MOUNT_ROOT), 'the paths layout assembles no tree');

  // restic recorded the real mount points, the snapshot's tag and its time.
  const snaps1 = JSON.parse(restic(repo, 'snapshots', '--json')) as ResticSnapshot[];
  assert.equal(snaps1.length, 1);
  assert.deepEqual(snaps1[0]!.paths, [pool.path('a'), pool.path('b')]);
  assert.ok(snaps1[0]!.tags?.includes(snapName), `tagged with ${snapName}`);
  assertSnapshotTime(Date.parse(snaps1[0]!.time), r1);

  // Restore: the files at their real paths, as they were at the snapshot.
  const target = scratchDir('restore');
  restic(repo, 'restore', 'latest', '--target', target);
  const base = join(target, pool.path());
  assert.equal(readFileSync(join(base, 'a/file1'), 'utf8'), 'one\n', 'the frozen content, not the change made during the backup');
  assert.ok(!existsSync(join(base, 'a/new')), 'a file created during the backup is not in it');
  assert.equal(readFileSync(join(base, 'b/file2'), 'utf8'), 'two\n', 'a file deleted during the backup is in it');
  assert.equal(readFileSync(join(base, 'b/nested/file3'), 'utf8'), 'three\n', 'the nested dataset is in it');

  // ---- run 2: restic finds run 1 as the parent, because the paths are the same.
  const r2 = await run(RESTOMIC, args, { env: repo });
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, new RegExp(`using parent snapshot ${snaps1[0]!.short_id}`), 'restic says it used run 1 as the parent');
  const snaps2 = JSON.parse(restic(repo, 'snapshots', '--json')) as ResticSnapshot[];
  assert.equal(snaps2.length, 2);
  const second = snaps2.find((s) => s.id !== snaps1[0]!.id)!;
  assert.equal(second.parent, snaps1[0]!.id, 'the snapshot records run 1 as its parent');
  assert.deepEqual(second.paths, [pool.path('a'), pool.path('b')]);
  assert.equal(restic(repo, 'dump', second.id, pool.path('a/file1')), 'changed during the backup\n');
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
  assert.deepEqual(snapshotMountsAnywhere(pool), []);

  watching = false;
  await watcher;
  assert.deepEqual(seenOutside, [], 'no snapshot mount was ever visible outside the namespace');
});

test('restic --layout paths: $HOME/.cache on a frozen dataset stays writable, the backup succeeds', async (t) => {
  const pool = Pool.create(['home']).destroyAfter(t);
  const home = pool.path('home/root');
  mkdirSync(home);
  writeFileSync(join(home, 'notes'), 'hello\n');
  // No RESTIC_CACHE_DIR: restic uses $HOME/.cache/restic, on the frozen dataset.
  const repo = { ...resticRepo(), RESTIC_CACHE_DIR: '', XDG_CACHE_HOME: '', HOME: home };
  const args = ['--json', '--layout', 'paths', '--mount-root', MOUNT_ROOT, pool.ds('home')];
  for (const round of [1, 2]) {
    const r = await run(RESTOMIC, args, { env: repo });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summary(r)?.['status'], 'ok');
    assert.doesNotMatch(r.stderr, /unable to open cache|read-only file system/i, `round ${round}: restic could write its cache`);
    assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
    assert.deepEqual(snapshotMountsAnywhere(pool), []);
  }
  // The live cache got restic's files, written through the namespace.
  const cache = join(home, '.cache/restic');
  const repoDirs = readdirSync(cache).filter((d) => /^[0-9a-f]{64}$/.test(d));
  assert.equal(repoDirs.length, 1, `one repository cache in ${cache}: ${readdirSync(cache).join(' ')}`);
  assert.ok(readdirSync(join(cache, repoDirs[0]!, 'snapshots')).length >= 1, 'restic cached the snapshots it wrote');
  const snaps = JSON.parse(restic(repo, 'snapshots', '--json')) as ResticSnapshot[];
  assert.deepEqual(snaps.map((s) => s.paths), [[pool.path('home')], [pool.path('home')]]);
  assert.ok(snaps.some((s) => s.parent), 'the second run used the first as parent');
});

test('restic --layout paths: kopiatomic killed by SIGKILL mid-backup: the namespace and its mounts go, cleanup destroys the rest', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  writeFileSync(pool.path('a/file1'), 'one\n');
  const repo = resticRepo();
  const args = ['--json', '--layout', 'paths', '--mount-root', MOUNT_ROOT];
  const noMountsLeft = async (what: string) => {
    const until = Date.now() + 30_000;
    while (snapshotMountsAnywhere(pool).length && Date.now() < until) await sleep(200);
    assert.deepEqual(snapshotMountsAnywhere(pool), [], `${what}: no process anywhere still has a snapshot mounted`);
    assert.ok(pool.snapshots().some((s) => s.includes('@kopiatomic')), `${what}: the dead run left its snapshot (and hold) for recovery`);
  };

  // 1. Killed right after starting the engine (the fault hook), maybe before ns-exec even runs.
  const early = gatedRestic();
  const r1 = await run(RESTOMIC, [...args, '-c', `${early.bin} backup`, pool.ds('a')], {
    env: { ...repo, KT_GATE: early.gate, KOPIATOMIC_TEST_FAULT: 'backup' },
  });
  assert.equal(r1.signal, 'SIGKILL', r1.stderr);
  await noMountsLeft('killed at engine start');

  // 2. Killed while restic runs inside the namespace with the snapshot mounted.
  // (This run first recovers what run 1 left.)
  const late = gatedRestic();
  let kopiatomic: ChildProcess | undefined;
  const p2 = run(RESTOMIC, [...args, '-c', `${late.bin} backup`, pool.ds('a')], {
    env: { ...repo, KT_GATE: late.gate },
    onEvent: (_e, child) => (kopiatomic = child),
  });
  await waitFor(join(late.gate, 'inside'), 'restic to start inside the namespace');
  assert.ok(snapshotMountsAnywhere(pool).length > 0, 'the namespace holds the snapshot mount while restic runs');
  assert.ok(kopiatomic, 'kopiatomic is running');
  kopiatomic.kill('SIGKILL');
  const r2 = await p2;
  assert.equal(r2.signal, 'SIGKILL', r2.stderr);
  await noMountsLeft('killed mid-backup');
  assert.match(r2.stderr, /kopiatomic \(pid \d+\) is gone: stopping the engine/);

  const c = await run(RESTOMIC, ['--json', 'cleanup', '--mount-root', MOUNT_ROOT]);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN, 'recovery destroyed the snapshots: nothing kept them busy');
  assert.equal(readFileSync(pool.path('a/file1'), 'utf8'), 'one\n');
});

/**
 * Stands in for kopia (0.17, or $KT_KOPIA_VERSION): `--version` like kopia,
 * and for `snapshot create` it records its argv and every file of the folder
 * it was given, then prints a manifest line as `--json` does.
 */
function standInKopia(): { bin: string; log: string } {
  const dir = scratchDir('kopia-bin');
  const bin = join(dir, 'kopia');
  const log = join(dir, 'calls.jsonl');
  writeFileSync(
    bin,
    `#!${process.execPath}
const fs = require('node:fs'), path = require('node:path');
const argv = process.argv.slice(2);
if (argv[0] === '--version') { console.log((process.env.KT_KOPIA_VERSION || '0.17.0') + ' build: stand-in from: kopiatomic/test'); process.exit(0); }
const src = argv[argv.length - 1];
const files = {};
const walk = (rel) => { for (const n of fs.readdirSync(path.join(src, rel)).sort()) { const r = rel ? rel + '/' + n : n; const st = fs.lstatSync(path.join(src, r)); if (st.isDirectory()) walk(r); else files[r] = fs.readFileSync(path.join(src, r), 'utf8'); } };
walk('');
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, files }) + '\\n');
console.log(JSON.stringify({ id: 'stand-in', source: { path: src }, rootEntry: { summ: { numFailed: 0 } } }));
`,
  );
  chmodSync(bin, 0o755);
  return { bin, log };
}

test('kopia --layout paths with a stand-in kopia: one call per top-level dataset, reading the frozen tree, recorded under the real path', async (t) => {
  const pool = Pool.create(['a', 'b', 'b/nested']).destroyAfter(t);
  writeFileSync(pool.path('a/file1'), 'one\n');
  writeFileSync(pool.path('b/file2'), 'two\n');
  writeFileSync(pool.path('b/nested/file3'), 'three\n');
  const { bin, log } = standInKopia();
  const args = ['--json', '--layout', 'paths', '--mount-root', MOUNT_ROOT, '-c', `${bin} snapshot create`, '-r', pool.ds('a'), pool.ds('b')];

  // Too old: refused before anything is snapshotted, with the reason.
  const old = await run(KOPIATOMIC, args, { env: { KT_KOPIA_VERSION: '0.13.0' } });
  assert.equal(old.code, 2, old.stderr);
  assert.match(String(summary(old)?.['error']), /kopia 0\.13\.0 is too old for the paths layout.*0\.14 or newer/);
  assert.ok(!existsSync(log), 'kopia never ran');
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);

  const r = await run(KOPIATOMIC, args);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(summary(r)?.['status'], 'ok');
  const snap = String(summary(r)?.['snapshot']);
  assert.deepEqual(summary(r)?.['backupExitCodes'], [0, 0], 'two kopia calls, one after the other');
  const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; files: Record<string, string> });
  const time = calls[0]!.argv[calls[0]!.argv.indexOf('--start-time') + 1]!;
  assert.match(time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, 'Go layout "2006-01-02 15:04:05 MST"');
  assertSnapshotTime(Date.parse(time.replace(' UTC', 'Z').replace(' ', 'T')), r);
  const common = ['snapshot', 'create', '--start-time', time, '--tags', `kopiatomic:${snap}`, '--tags', 'kopiatomic-job:default', '--json'];
  assert.deepEqual(calls, [
    { argv: [...common, `--override-source=${pool.path('a')}`, join(MOUNT_ROOT, pool.path('a'))], files: { file1: 'one\n' } },
    { argv: [...common, `--override-source=${pool.path('b')}`, join(MOUNT_ROOT, pool.path('b'))], files: { file2: 'two\n', 'nested/file3': 'three\n' } },
  ]);
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
});

const KOPIA = which('kopia');
test(
  'kopia --layout paths: one snapshot per dataset under its real path, with start time and tags',
  { skip: KOPIA ? false : 'kopia is not installed: no kopia binary in PATH (the argv-level tests in test/unit/layout-paths.test.ts still run)' },
  async (t) => {
    const pool = Pool.create(['a', 'b', 'b/nested']).destroyAfter(t);
    writeFileSync(pool.path('a/file1'), 'one\n');
    writeFileSync(pool.path('b/nested/file3'), 'three\n');
    const dir = scratchDir('kopia');
    const env = {
      KOPIA_CONFIG_PATH: join(dir, 'repository.config'),
      KOPIA_CACHE_DIRECTORY: join(dir, 'cache'),
      KOPIA_LOG_DIR: join(dir, 'logs'),
      KOPIA_PASSWORD: 'e2e-password',
      KOPIA_CHECK_FOR_UPDATES: 'false',
    };
    const kopia = (...a: string[]) => execFileSync('kopia', a, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    kopia('repository', 'create', 'filesystem', `--path=${join(dir, 'repo')}`);
    const args = ['--json', '--layout', 'paths', '--mount-root', MOUNT_ROOT, '-r', pool.ds('a'), pool.ds('b')];
    const r1 = await run(KOPIATOMIC, args, { env });
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
    const r2 = await run(KOPIATOMIC, args, { env });
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);

    interface Manifest { id: string; source: { path: string }; startTime: string; tags?: Record<string, string> }
    const list = JSON.parse(kopia('snapshot', 'list', '--all', '--json')) as Manifest[];
    const byPath = (p: string) => list.filter((m) => m.source.path === p);
    assert.equal(byPath(pool.path('a')).length, 2, 'two snapshots of the real path of a');
    assert.equal(byPath(pool.path('b')).length, 2, 'two snapshots of the real path of b (nested included)');
    assert.equal(byPath(pool.path('b/nested')).length, 0, 'the nested dataset is part of b');
    assert.ok(list.every((m) => !m.source.path.startsWith(MOUNT_ROOT)), 'no source under the mount root');
    assert.equal(list.filter((m) => m.tags?.['tag:kopiatomic'] === summary(r1)?.['snapshot']).length, 2, 'run 1 tagged both');
    const first = byPath(pool.path('a')).find((m) => m.tags?.['tag:kopiatomic'] === summary(r1)?.['snapshot'])!;
    assertSnapshotTime(Date.parse(first.startTime), r1);
    const target = scratchDir('kopia-restore');
    kopia('snapshot', 'restore', byPath(pool.path('b')).at(-1)!.id, target);
    assert.equal(readFileSync(join(target, 'nested/file3'), 'utf8'), 'three\n');
  },
);
