// The comparison of a verification, on real temporary trees on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { compareTrees, type CompareOptions } from '../../src/verify/compare.js';
import { NO_ABSENCE } from '../../src/engine/absence.js';
import { resticAbsence } from '../../src/engine/restic.js';

const ROOT = process.getuid?.() === 0;

/** A source tree with every kind of entry, and a faithful copy made by cp -a (no shared code with the comparison). */
function trees(): { src: string; dst: string; done: () => void } {
  const base = mkdtempSync(`${tmpdir()}/kt-verify-`);
  const src = `${base}/src`;
  mkdirSync(`${src}/sub/deeper`, { recursive: true });
  writeFileSync(`${src}/a.txt`, 'hello\n');
  writeFileSync(`${src}/empty`, '');
  writeFileSync(`${src}/sub/deeper/ü ñ 日本.txt`, 'unicode\n');
  writeFileSync(`${src}/${'L'.repeat(255)}`, 'long name\n');
  writeFileSync(`${src}/big`, Buffer.alloc(3 * 1024 * 1024 + 17, 7)); // more than one read
  const fd = openSync(`${src}/sparse`, 'w');
  writeSync(fd, 'start');
  closeSync(fd);
  truncateSync(`${src}/sparse`, 64 * 1024 * 1024);
  symlinkSync('a.txt', `${src}/link`);
  symlinkSync('/etc/passwd', `${src}/outside-link`);
  linkSync(`${src}/a.txt`, `${src}/sub/hard`);
  writeFileSync(`${src}/suid`, '#!/bin/sh\n');
  chmodSync(`${src}/suid`, 0o4755);
  writeFileSync(`${src}/secret`, 'x');
  chmodSync(`${src}/secret`, 0o600);
  if (ROOT) chownSync(`${src}/secret`, 1234, 5678);
  const dst = `${base}/dst`;
  execFileSync('cp', ['-a', src, dst]);
  return { src, dst, done: () => rmSync(base, { recursive: true, force: true }) };
}

const opts: CompareOptions = { absence: NO_ABSENCE };
const pair = (src: string, dst: string) => [{ frozen: src, restored: dst, shown: '/t' }];

test('equal trees: no differences, every entry and every file content counted', async () => {
  const t = trees();
  try {
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, []);
    assert.equal(r.differences, 0);
    assert.equal(r.files, 9);
    assert.equal(r.filesCompared, 9);
    assert.equal(r.entries, 14); // root, 3 folders (root counted), 9 files, 2 links = 1 + 2 + 9 + 2
    assert.ok(r.bytesCompared > 64 * 1024 * 1024);
  } finally {
    t.done();
  }
});

test('one changed byte (same size, same mtime) is a content difference', async () => {
  const t = trees();
  try {
    const st = lstatSync(`${t.dst}/big`);
    const fd = openSync(`${t.dst}/big`, 'r+');
    writeSync(fd, Buffer.from([8]), 0, 1, 2 * 1024 * 1024 + 3);
    closeSync(fd);
    execFileSync('touch', ['-h', '-r', `${t.src}/big`, `${t.dst}/big`]); // the mtime back, to the ns
    assert.equal(lstatSync(`${t.dst}/big`).size, st.size);
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, [{ path: '/t/big', what: 'content' }]);
  } finally {
    t.done();
  }
});

test('mode, owner and mtime differences are named', async () => {
  const t = trees();
  try {
    chmodSync(`${t.dst}/suid`, 0o755);
    if (ROOT) chownSync(`${t.dst}/secret`, 0, 0);
    utimesSync(`${t.dst}/empty`, new Date(0), new Date(1000));
    const r = await compareTrees(pair(t.src, t.dst), opts);
    const by = Object.fromEntries(r.firstDifferences.map((d) => [d.path, d.what]));
    assert.equal(by['/t/suid'], 'mode 4755 -> 0755');
    if (ROOT) assert.equal(by['/t/secret'], 'owner 1234:5678 -> 0:0');
    assert.match(by['/t/empty'] ?? '', /^mtime .* -> 1970-01-01T00:00:01\.000000000Z$/);
  } finally {
    t.done();
  }
});

test('a missing file is a difference; excluded by a pattern the engine was given, it is counted and listed as excluded', async () => {
  const t = trees();
  try {
    unlinkSync(`${t.dst}/sub/deeper/ü ñ 日本.txt`);
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.equal(r.differences, 2, JSON.stringify(r.firstDifferences)); // the file, and its folder's mtime
    assert.ok(r.firstDifferences.some((d) => d.path === '/t/sub/deeper/ü ñ 日本.txt' && d.what === 'missing from the backup'));
    assert.equal(r.excluded, 0);
    // the folder's mtime is put back, as a restore of a backup that excluded the file would have it
    execFileSync('touch', ['-h', '-r', `${t.src}/sub/deeper`, `${t.dst}/sub/deeper`]);
    const x = await compareTrees(pair(t.src, t.dst), { absence: resticAbsence(['restic', 'backup'], ['--exclude', '*.txt']) });
    assert.equal(x.differences, 0, JSON.stringify(x.firstDifferences));
    assert.equal(x.excluded, 1);
    assert.deepEqual(x.excludedPaths, ['/t/sub/deeper/ü ñ 日本.txt']);
  } finally {
    t.done();
  }
});

test('an extra file in the backup is a difference', async () => {
  const t = trees();
  try {
    writeFileSync(`${t.dst}/sub/extra`, 'not in the source');
    execFileSync('touch', ['-h', '-r', `${t.src}/sub`, `${t.dst}/sub`]);
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, [{ path: '/t/sub/extra', what: 'in the backup but not in the source' }]);
  } finally {
    t.done();
  }
});

test('a symlink target difference is named, and symlinks are never followed', async () => {
  const t = trees();
  try {
    unlinkSync(`${t.dst}/link`);
    symlinkSync('empty', `${t.dst}/link`);
    execFileSync('touch', ['-h', '-r', `${t.src}`, `${t.dst}`]);
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, [{ path: '/t/link', what: 'symlink target "a.txt" -> "empty"' }]);
    // outside-link points to /etc/passwd on both sides: equal as a link, its target never read
    assert.equal(r.files, 9);
  } finally {
    t.done();
  }
});

test('a broken hard link (two separate copies) is a difference; a file turned into a link too', async () => {
  const t = trees();
  try {
    const st = lstatSync(`${t.dst}/sub/hard`, { bigint: true });
    unlinkSync(`${t.dst}/sub/hard`);
    writeFileSync(`${t.dst}/sub/hard`, 'hello\n');
    chmodSync(`${t.dst}/sub/hard`, Number(st.mode & 0o7777n));
    execFileSync('touch', ['-h', '-r', `${t.src}/a.txt`, `${t.dst}/sub/hard`]);
    execFileSync('touch', ['-h', '-r', `${t.src}/sub`, `${t.dst}/sub`]);
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, [{ path: '/t/sub/hard', what: 'hard link: linked to /t/a.txt in the source, not linked in the backup' }]);
  } finally {
    t.done();
  }
});

test('sparse: a sparse source equals a fully written copy with the same bytes; a hole filled with data does not', async () => {
  const t = trees();
  try {
    // rewrite the copy without holes: same content, same metadata
    execFileSync('cp', ['-a', '--sparse=never', `${t.src}/sparse`, `${t.dst}/sparse`]);
    let r = await compareTrees(pair(t.src, t.dst), opts);
    assert.equal(r.differences, 0, JSON.stringify(r.firstDifferences));
    const fd = openSync(`${t.dst}/sparse`, 'r+');
    writeSync(fd, 'X', 40 * 1024 * 1024);
    closeSync(fd);
    execFileSync('touch', ['-h', '-r', `${t.src}/sparse`, `${t.dst}/sparse`]);
    r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, [{ path: '/t/sparse', what: 'content' }]);
  } finally {
    t.done();
  }
});

test('type change: a file in the source that is a directory in the backup', async () => {
  const t = trees();
  try {
    unlinkSync(`${t.dst}/empty`);
    mkdirSync(`${t.dst}/empty`);
    execFileSync('touch', ['-h', '-r', `${t.src}`, `${t.dst}`]);
    const r = await compareTrees(pair(t.src, t.dst), opts);
    assert.deepEqual(r.firstDifferences, [{ path: '/t/empty', what: 'type: file in the source, directory in the backup' }]);
  } finally {
    t.done();
  }
});

test('the sample: only the chosen files are hashed, but every name is compared', async () => {
  const t = trees();
  try {
    unlinkSync(`${t.dst}/a.txt`);
    const r = await compareTrees(pair(t.src, t.dst), { absence: NO_ABSENCE, contents: () => false });
    assert.equal(r.filesCompared, 0);
    assert.ok(r.firstDifferences.some((d) => d.path === '/t/a.txt' && d.what === 'missing from the backup'));
  } finally {
    t.done();
  }
});

test('skip: a frozen path left out is neither compared nor missing; nothing restored at all is one difference', async () => {
  const t = trees();
  try {
    const r = await compareTrees(pair(t.src, t.dst), { absence: NO_ABSENCE, skip: (p) => p.toString() === `${t.src}/sub` });
    assert.equal(r.differences, 0); // sub is left out on both sides
    const none = await compareTrees([{ frozen: t.src, restored: `${t.dst}-nothing`, shown: '/t' }], opts);
    assert.deepEqual(none.firstDifferences, [{ path: '/t', what: 'missing from the backup (nothing was restored)' }]);
  } finally {
    t.done();
  }
});

test('aborted: the walk stops and says why', async () => {
  const t = trees();
  try {
    const r = await compareTrees(pair(t.src, t.dst), { absence: NO_ABSENCE, aborted: () => 'interrupted by SIGTERM' });
    assert.equal(r.abortedBy, 'interrupted by SIGTERM');
  } finally {
    t.done();
  }
});
