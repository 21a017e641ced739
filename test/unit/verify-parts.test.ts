// Verification: the sample, the flags, the engines' verify verbs (restic,
// kopia, command), where the restore goes, and the exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/args.js';
import { RESTOMIC, KOPIATOMIC } from '../../src/config/job.js';
import { UsageError } from '../../src/core/errors.js';
import { inSample } from '../../src/verify/sample.js';
import {
  parseResticRestoreSize,
  parseResticSnapshotIds,
  resticBase,
  resticAbsence,
  resticRestoreArgv,
  resticSnapshotsArgv,
  resticStatsArgv,
} from '../../src/engine/restic.js';
import { kopiaRestoreArgv, parseKopiaManifests } from '../../src/engine/kopia.js';
import { verifyCommandArgv } from '../../src/engine/command.js';
import { needed, placeRestore } from '../../src/verify/space.js';
import { withVerify } from '../../src/core/exit-status.js';
import { emptyResult } from '../../src/verify/result.js';

test('sample: the same run id picks the same files; about PERCENT% are picked; runs differ', () => {
  const paths = Array.from({ length: 20000 }, (_, i) => `/restic/pool/d${i % 37}/file-${i}`);
  const a = paths.filter((p) => inSample('20261127T100000Z-1-abc', p, 10));
  const b = paths.filter((p) => inSample('20261127T100000Z-1-abc', p, 10));
  const c = paths.filter((p) => inSample('20261127T110000Z-2-def', p, 10));
  assert.deepEqual(a, b);
  assert.ok(a.length > 1800 && a.length < 2200, `${a.length} of 20000`);
  assert.notDeepEqual(a, c);
  assert.ok(paths.every((p) => inSample('x', p, 100)));
  const one = paths.filter((p) => inSample('r', p, 1)).length;
  assert.ok(one > 120 && one < 280, `${one}`);
});

test('--verify: bare = 100, =PERCENT, bad values are usage errors', () => {
  const base = ['-r', 'tank'];
  assert.equal(parseCommandLine(base, RESTOMIC).verifyPercent, null);
  assert.equal(parseCommandLine(['--verify', ...base], RESTOMIC).verifyPercent, 100);
  assert.equal(parseCommandLine(['--verify=10', ...base], RESTOMIC).verifyPercent, 10);
  assert.equal(parseCommandLine(['--verify=2.5', ...base], RESTOMIC).verifyPercent, 2.5);
  assert.equal(parseCommandLine([...base, '--verify'], RESTOMIC).verifyPercent, 100); // bare before a target is not eaten as a value
  assert.deepEqual(parseCommandLine(['--verify', 'tank'], RESTOMIC).targets, ['tank']);
  for (const bad of ['0', '101', '-5', 'abc', '', '1e2', '50x']) {
    assert.throws(() => parseCommandLine([`--verify=${bad}`, ...base], RESTOMIC), UsageError, bad);
  }
});

test('--verify with the command engine needs --verify-command; kopia and restic do not', () => {
  assert.throws(() => parseCommandLine(['--verify', '--engine', 'command', '-c', 'true', 'tank'], KOPIATOMIC), /--verify-command/);
  const o = parseCommandLine(['--verify', '--engine', 'command', '-c', 'true', '--verify-command', "my-restore --from 'a b'", 'tank'], KOPIATOMIC);
  assert.deepEqual(o.verifyCommand, ['my-restore', '--from', 'a b']);
  assert.equal(parseCommandLine(['--verify', 'tank'], KOPIATOMIC).verifyPercent, 100);
  assert.throws(() => parseCommandLine(['--verify-command', '', 'tank'], KOPIATOMIC), UsageError);
});

test('restic base: the backup command without `backup`, with global options from -o, backup options left out', () => {
  assert.deepEqual(resticBase(['restic', 'backup'], []), ['restic']);
  assert.deepEqual(resticBase(['env', 'A=1', '/usr/bin/restic', '--no-lock', 'backup'], ['--exclude', '/x', '-r', '/repo', '--tag', 'n', '--password-file=/pw', '-x', '-o', 's3.connections=2']), [
    'env', 'A=1', '/usr/bin/restic', '--no-lock', '-r', '/repo', '--password-file=/pw', '-o', 's3.connections=2',
  ]);
  assert.deepEqual(resticBase(['/w/restic-wrapper', 'backup'], ['--cache-dir', '/c', '--host', 'h', '--exclude-caches']), ['/w/restic-wrapper', '--cache-dir', '/c']);
  // an exclude value that looks like a global flag is skipped with its flag
  assert.deepEqual(resticBase(['restic', 'backup'], ['--exclude', '-r']), ['restic']);
});

test('restic excludes: every option that leaves entries out is a rule or makes an absence unjudgeable', () => {
  const seen = (c: string[], o: string[]) => { const a = resticAbsence(c, o); return a.rules.length + a.unknown.length; };
  assert.equal(seen(['restic', 'backup'], ['--tag', 'x', '--host', 'h']), 0);
  for (const o of [['--exclude', '/a'], ['--exclude=/a'], ['-e', '/a'], ['--iexclude', 'A'], ['--exclude-file', '/f'], ['--exclude-caches'], ['--exclude-if-present', '.nobackup'], ['--exclude-larger-than', '1G'], ['-x'], ['--one-file-system'], ['--files-from', '/l']]) {
    assert.equal(seen(['restic', 'backup'], o), 1, o.join(' '));
  }
  assert.equal(seen(['restic', 'backup', '--exclude-caches'], []), 1);
});

test('restic verbs: snapshots by tag (never latest), restore size, restore with --sparse only from 0.15', () => {
  assert.deepEqual(resticSnapshotsArgv(['restic'], 'kopiatomic-R'), ['restic', 'snapshots', '--json', '--tag', 'kopiatomic-R']);
  assert.deepEqual(resticStatsArgv(['restic'], 'ID'), ['restic', 'stats', '--json', '--mode', 'restore-size', 'ID']);
  assert.deepEqual(resticRestoreArgv(['restic'], 'ID', '/v/d', [0, 14, 0]), ['restic', 'restore', 'ID', '--target', '/v/d']);
  assert.deepEqual(resticRestoreArgv(['restic'], 'ID', '/v/d', [0, 16, 4]), ['restic', 'restore', 'ID', '--target', '/v/d', '--sparse']);
  const id = 'a'.repeat(64);
  // restic 0.14 `snapshots --json`: an array of snapshots
  const out = `[{"time":"2026-11-27T10:00:00Z","tree":"${'b'.repeat(64)}","paths":["/restic"],"hostname":"g","username":"root","tags":["kopiatomic-R"],"id":"${id}","short_id":"aaaaaaaa"}]\n`;
  assert.deepEqual(parseResticSnapshotIds(out), [id]);
  assert.deepEqual(parseResticSnapshotIds('[]\n'), []);
  assert.deepEqual(parseResticSnapshotIds(''), []);
  assert.throws(() => parseResticSnapshotIds('{"id":1}'));
  assert.equal(parseResticRestoreSize('{"total_size":123456,"total_file_count":7}\n'), 123456);
  assert.throws(() => parseResticRestoreSize('nothing'));
});

test('kopia manifests: one JSON line per source, or indented; id, source path and size', () => {
  // Field names as kopia's snapshot.Manifest / DirEntry / DirectorySummary marshal them.
  const m1 = { id: 'k1f3a', source: { host: 'h', userName: 'root', path: '/kopia' }, description: '', startTime: '2026-11-27T10:00:00Z', endTime: '2026-11-27T10:00:09Z', rootEntry: { name: 'kopia', type: 'd', mode: '0700', mtime: '2026-11-27T10:00:00Z', obj: 'k0123', summ: { size: 4096, files: 3, symlinks: 1, dirs: 2, maxTime: '2026-11-27T09:00:00Z', numFailed: 0 } }, tags: { 'tag:kopiatomic': 'kopiatomic-R' } };
  const m2 = { ...m1, id: 'k2b', source: { ...m1.source, path: '/home' }, rootEntry: { ...m1.rootEntry, summ: { ...m1.rootEntry.summ, size: 10 } } };
  const text = `${JSON.stringify(m1)}\n${JSON.stringify(m2)}\n`;
  assert.deepEqual(parseKopiaManifests(text), [
    { id: 'k1f3a', path: '/kopia', size: 4096 },
    { id: 'k2b', path: '/home', size: 10 },
  ]);
  assert.deepEqual(parseKopiaManifests(`Snapshotting root@h:/kopia ...\n${JSON.stringify(m1, null, '  ')}\n`), [{ id: 'k1f3a', path: '/kopia', size: 4096 }]);
  // braces inside strings do not confuse it; objects without an id are ignored
  assert.deepEqual(parseKopiaManifests(`{"x":"}{"}\n{"id":"k9","description":"a { b","source":{"path":"/a"}}`), [{ id: 'k9', path: '/a', size: null }]);
  assert.deepEqual(parseKopiaManifests('not json at all'), []);
});

test('kopia restore argv: the words before `snapshot` carry over (config file, wrappers)', () => {
  assert.deepEqual(kopiaRestoreArgv(['kopia', 'snapshot', 'create'], 'k1', '/v/0'), ['kopia', 'snapshot', 'restore', 'k1', '/v/0']);
  assert.deepEqual(kopiaRestoreArgv(['kopia', '--config-file=/etc/k.config', 'snapshot', 'create'], 'k1', '/v/0'), ['kopia', '--config-file=/etc/k.config', 'snapshot', 'restore', 'k1', '/v/0']);
  assert.deepEqual(kopiaRestoreArgv(['env', 'KOPIA_PASSWORD=x', 'kopia', 'snapshot', 'create'], 'k1', '/d'), ['env', 'KOPIA_PASSWORD=x', 'kopia', 'snapshot', 'restore', 'k1', '/d']);
});

test('command engine: the verify command gets the frozen root and the folder to restore into, last', () => {
  assert.deepEqual(verifyCommandArgv(['my-restore', '--x'], '/kopia', '/var/tmp/v/root'), ['my-restore', '--x', '/kopia', '/var/tmp/v/root']);
});

test('restore placement: first candidate with room, never inside the frozen tree; none: the reason', () => {
  const free: Record<string, number> = { '/big': 10 * 2 ** 30, '/small': 2 ** 20, '/pool/a/tmp': 10 * 2 ** 30 };
  const f = (d: string) => free[d] ?? null;
  assert.deepEqual(placeRestore(2 ** 30, ['/pool/a'], ['/small', '/pool/a/tmp', '/big'], f), { ok: true, dir: '/big' });
  const none = placeRestore(2 ** 30, ['/pool/a'], ['/small', '/pool/a/tmp', '/gone'], f);
  assert.equal(none.ok, false);
  assert.match((none as { reason: string }).reason, /no room to restore 1024\.0 MiB.*\/small has 1\.0 MiB free; \/pool\/a\/tmp is inside the frozen tree; \/gone cannot be used/);
  assert.ok(needed(0) >= 64 * 2 ** 20 && needed(2 ** 30) > 2 ** 30);
});

test('exit status: a difference fails the backup (1); a verification that could not run exits 8; others keep theirs', () => {
  const ok = { status: 'ok' as const, code: 0 };
  assert.deepEqual(withVerify(ok, null), ok);
  assert.deepEqual(withVerify(ok, emptyResult(100, 'ok')), ok);
  assert.deepEqual(withVerify(ok, emptyResult(100, 'failed')), { status: 'verify-failed', code: 1 });
  assert.deepEqual(withVerify(ok, emptyResult(100, 'error', 'no room')), { status: 'verify-error', code: 8 });
  assert.deepEqual(withVerify({ status: 'partial', code: 3 }, emptyResult(100, 'skipped')), { status: 'partial', code: 3 });
  assert.deepEqual(withVerify({ status: 'cleanup-incomplete', code: 5 }, emptyResult(100, 'failed')), { status: 'cleanup-incomplete', code: 5 });
});

test('stale restore folders: removed when the run named in them is gone; kept when alive, not ours, or a symlink', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, existsSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { removeStaleFolders } = await import('../../src/verify/space.js');
  const d = mkdtempSync(`${tmpdir()}/kt-stale-`);
  try {
    const dead = `kopiatomic-verify-20261127T100000Z-4194301-abcdef-Ab12Cd`;
    const mine = `kopiatomic-verify-20261127T100000Z-${process.pid}-abcdef-Xy34Zw`;
    const live = `kopiatomic-verify-20261127T100000Z-1-abcdef-Qq11Qq`; // pid 1 is always alive
    const other = 'kopiatomic-verify-something-else';
    for (const n of [dead, mine, live, other]) mkdirSync(`${d}/${n}`);
    writeFileSync(`${d}/${dead}/restored`, 'x');
    symlinkSync('/', `${d}/kopiatomic-verify-20261127T100000Z-4194302-abcdef-Ln00Ln`);
    const warnings: string[] = [];
    removeStaleFolders([d, `${d}/missing`], (m) => warnings.push(m));
    assert.equal(existsSync(`${d}/${dead}`), false);
    for (const n of [mine, live, other]) assert.equal(existsSync(`${d}/${n}`), true, n);
    assert.equal(existsSync(`${d}/kopiatomic-verify-20261127T100000Z-4194302-abcdef-Ln00Ln`), true, 'a symlink is never followed or removed');
    assert.equal(warnings.length, 1);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('dry run lines: the verification commands with ID and DIR as names', async () => {
  const { verifyPlanLines } = await import('../../src/verify/plan.js');
  const { resticEngine } = await import('../../src/engine/restic.js');
  const plan = {
    engine: resticEngine,
    snapshot: 'kopiatomic-R',
    mountRoot: '/restic',
    probe: { version: '0.14.0' },
    engineContext: { command: ['restic', 'backup'], options: ['-r', '/repo'] },
    repositories: [{ name: 'default', configured: false }],
  } as unknown as Parameters<typeof verifyPlanLines>[0];
  assert.deepEqual(verifyPlanLines(plan, 10, null), [
    '# verify (contents of 10% of the files, every name), before cleanup',
    'restic -r /repo snapshots --json --tag kopiatomic-R',
    'restic -r /repo stats --json --mode restore-size ID',
    'restic -r /repo restore ID --target DIR',
    '# compare DIR with the frozen tree, then remove DIR',
  ]);
});
