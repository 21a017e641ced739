// Why an entry is absent from a backup: restic's exclude patterns, the rules
// read from its options, the judgement, and the comparison on real trees
// (sockets, names that are not UTF-8, CACHEDIR.TAG).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeAbsent, NO_ABSENCE, type AbsentEntry } from '../../src/engine/absence.js';
import { resticAbsence, resticParseBytes } from '../../src/engine/restic.js';
import { matchRestic } from '../../src/engine/restic-pattern.js';
import { goExpand } from '../../src/engine/restic-exclude-file.js';
import { compareTrees, showPath } from '../../src/verify/compare.js';

const m = (pattern: string, path: string | Buffer, i = false) => matchRestic(pattern, typeof path === 'string' ? Buffer.from(path) : path, i);

test("restic's patterns: a component anywhere, rooted, *, ?, ** and everything below a match", () => {
  assert.equal(m('foo', '/a/foo'), true);
  assert.equal(m('foo', '/a/foo/bar'), true, 'below an excluded directory');
  assert.equal(m('foo', '/a/foobar'), false);
  assert.equal(m('foo', '/foo'), true);
  assert.equal(m('foo/', '/a/foo'), true, 'cleaned: the trailing slash goes');
  assert.equal(m('*.log', '/x/a.log'), true);
  assert.equal(m('*.log', '/x/a.log/inner'), true);
  assert.equal(m('*.log', '/x/alog'), false);
  assert.equal(m('*', '/'), false, 'the root itself is never a name');
  assert.equal(m('/a/b', '/a/b/c'), true);
  assert.equal(m('/a/b', '/x/a/b'), false, 'rooted: from the root only');
  assert.equal(m('//a//b', '/a/b'), true);
  assert.equal(m('a/*/c', '/a/x/c'), true);
  assert.equal(m('a/*/c', '/a/x/y/c'), false, '* is one component');
  assert.equal(m('a/**/c', '/a/c'), true);
  assert.equal(m('a/**/c', '/a/x/y/c'), true);
  assert.equal(m('a/**/c', '/b/c'), false);
  assert.equal(m('/a/**', '/a/x/y'), true);
  assert.equal(m('**/c', '/c'), true);
  assert.equal(m('f?o', '/f\u00fco'), true, '? is one character, not one byte');
  assert.equal(m('f?o', '/fo'), false);
  assert.equal(m('a?b', '/a\nb'), true, 'a newline is a character like any other');
  assert.equal(m('*', '/line\nbreak'), true);
  assert.equal(m('x.y', '/xzy'), false, 'a dot is literal');
  assert.equal(m('a+b', '/a+b'), true);
  assert.equal(m('', '/a'), false, 'empty patterns are ignored');
});

test("restic's patterns: what is not evaluated says so, never a guess", () => {
  assert.match(String(m('[ab].txt', '/a.txt')), /character class/);
  assert.match(String(m('\\*', '/*')), /escape/);
  assert.match(String(m('../x', '/x')), /"\." or "\.\."/);
  const bad = Buffer.from([0x2f, 0x61, 0xff, 0x62]); // "/a\xffb": not UTF-8
  assert.equal(m('a*b', bad), true, '* on bytes');
  assert.equal(m('a*c', bad), false);
  assert.match(String(m('a?b', bad)), /not valid UTF-8/);
  assert.equal(m('FOO', '/x/foo', true), true, '--iexclude');
  assert.equal(m('foo', '/x/FOO', true), true);
  assert.equal(m('FOO', '/x/foo'), false);
  assert.match(String(m('STRASSE', '/x/stra\u00dfe', true)), /not plain ASCII/);
});

test("restic's options: the rules that are evaluated, and the options that make an absence unjudgeable", () => {
  const a = resticAbsence(['env', 'X=1', 'restic', 'backup', '--exclude-caches'], [
    '-e', '*.tmp', '--exclude=/x', '--iexclude', 'Y', '-e*.bak',
    '--exclude-if-present', '.nobackup', '--exclude-if-present=.tag:HEAD',
    '--exclude-larger-than', '1M', '--tag', '-x', '--exclude-file', '/etc/ex', '--files-from', 'list', '--', '--exclude', 'not-an-option',
  ]);
  assert.deepEqual(a.notStored, ['socket']);
  assert.deepEqual(a.rules, [
    { kind: 'if-present', name: 'CACHEDIR.TAG', header: 'Signature: 8a477f597d28d172789f06886806bc55', option: '--exclude-caches' },
    { kind: 'restic-pattern', pattern: '*.tmp', insensitive: false, option: '-e' },
    { kind: 'restic-pattern', pattern: '/x', insensitive: false, option: '--exclude' },
    { kind: 'restic-pattern', pattern: 'Y', insensitive: true, option: '--iexclude' },
    { kind: 'restic-pattern', pattern: '*.bak', insensitive: false, option: '-e' },
    { kind: 'if-present', name: '.nobackup', header: '', option: '--exclude-if-present' },
    { kind: 'if-present', name: '.tag', header: 'HEAD', option: '--exclude-if-present' },
    { kind: 'larger-than', bytes: 1 << 20, option: '--exclude-larger-than 1M' },
  ]);
  assert.deepEqual(a.unknown, ['--exclude-file /etc/ex (/etc/ex could not be read (ENOENT)) is not evaluated', '--files-from list is not evaluated'], '-x after --tag is its value');
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['-x']).unknown, ['-x is not evaluated']);
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['-vx']).unknown, ['-vx (short options together) is not evaluated']);
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['--exclude-caches=false']).rules, []);
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['--exclude-cloud-files']).unknown, ['--exclude-cloud-files is not evaluated'], 'an exclude option not known here');
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['--tag', 'x', '--host', 'h']), { engine: 'restic', notStored: ['socket'], rules: [], unknown: [] });
  assert.equal(resticParseBytes('1024'), 1024);
  assert.equal(resticParseBytes('2k'), 2048);
  assert.equal(resticParseBytes('3G'), 3 * 2 ** 30);
  assert.equal(resticParseBytes('5b'), 5);
  assert.equal(resticParseBytes('1.5M'), null);
  assert.equal(resticParseBytes('1MiB'), null);
});

const entry = (path: string, over: Partial<AbsentEntry> = {}): AbsentEntry => ({ path: Buffer.from(path), kind: 'file', size: 10n, sibling: () => null, ...over });

test('the judgement: not stored, excluded, unjudged, lost', () => {
  const r = resticAbsence(['restic', 'backup'], ['--exclude', '*.tmp', '--exclude-caches', '--exclude-larger-than', '100']);
  assert.deepEqual(judgeAbsent(r, entry('/a/s', { kind: 'socket' })), { verdict: 'not-stored', why: 'not stored by restic (socket)' });
  assert.deepEqual(judgeAbsent(r, entry('/a/x.tmp')), { verdict: 'excluded', why: '--exclude *.tmp' });
  assert.deepEqual(judgeAbsent(r, entry('/a/x')), { verdict: 'lost' });
  assert.deepEqual(judgeAbsent(r, entry('/a/big', { size: 101n })), { verdict: 'excluded', why: '--exclude-larger-than 100' });
  assert.deepEqual(judgeAbsent(r, entry('/a/dir', { kind: 'directory', size: 1000n })), { verdict: 'lost' }, 'a directory is never too large');
  const tag = Buffer.from('Signature: 8a477f597d28d172789f06886806bc55');
  assert.equal(judgeAbsent(r, entry('/c/x', { sibling: () => tag })).verdict, 'excluded');
  assert.equal(judgeAbsent(r, entry('/c/CACHEDIR.TAG', { sibling: () => tag })).verdict, 'lost', 'the tag itself is kept');
  assert.equal(judgeAbsent(r, entry('/c/x', { sibling: () => Buffer.from('Signature: wrong') })).verdict, 'lost', 'a wrong header excludes nothing');
  assert.equal(judgeAbsent(r, entry('/c/x', { sibling: () => 'other' })).verdict, 'unjudged', 'a tag that is a symlink is not followed');
  const neg = resticAbsence(['restic', 'backup'], ['--exclude', '*.tmp', '--exclude', '!keep.tmp']);
  assert.equal(judgeAbsent(neg, entry('/a/x.tmp')).verdict, 'unjudged', 'a negation might have taken it back');
  assert.equal(judgeAbsent(neg, entry('/a/x')).verdict, 'lost');
  const file = resticAbsence(['restic', 'backup'], ['--exclude-file', '/etc/ex']);
  assert.deepEqual(judgeAbsent(file, entry('/a/x')), { verdict: 'unjudged', why: '--exclude-file /etc/ex (/etc/ex could not be read (ENOENT)) is not evaluated' });
  assert.deepEqual(judgeAbsent(file, entry('/a/s', { kind: 'socket' })).verdict, 'not-stored');
  assert.deepEqual(judgeAbsent(NO_ABSENCE, entry('/a/s', { kind: 'socket' })), { verdict: 'lost' });
});

test('names are bytes: shown escaped, never split by a newline', () => {
  assert.equal(showPath(Buffer.from([0x2f, 0x61, 0xff, 0x0a])), '/a\\xff\\x0a');
  assert.equal(showPath('/ü\nx'), '/ü\\x0ax');
  assert.equal(showPath('/plain ü 日本'), '/plain ü 日本');
});

test('compare on real trees: a socket restic does not store, a name that is not UTF-8, a CACHEDIR.TAG directory, a lost file', async () => {
  const base = mkdtempSync(`${tmpdir()}/kt-absence-`);
  const src = `${base}/src`;
  const srv = createServer();
  try {
    mkdirSync(`${src}/cache/sub`, { recursive: true });
    writeFileSync(`${src}/cache/CACHEDIR.TAG`, 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n');
    writeFileSync(`${src}/cache/sub/x`, 'x');
    writeFileSync(`${src}/cache/y`, 'y');
    writeFileSync(Buffer.from(`${src}/bad-\xff-name`, 'latin1'), 'not utf-8\n');
    writeFileSync(`${src}/keep`, 'keep\n');
    await new Promise<void>((res) => srv.listen(`${src}/sock`, res));
    execFileSync('cp', ['-a', `${src}`, `${base}/dst`]); // cp copies sockets as sockets: remove it, as restic would not store it
    const dst = `${base}/dst`;
    unlinkSync(`${dst}/sock`);
    rmSync(`${dst}/cache/sub`, { recursive: true });
    unlinkSync(`${dst}/cache/y`);
    execFileSync('touch', ['-h', '-r', `${src}/cache`, `${dst}/cache`]);
    execFileSync('touch', ['-h', '-r', src, dst]);
    const pair = [{ frozen: src, restored: dst, shown: '/t' }];
    const rules = resticAbsence(['restic', 'backup'], ['--exclude-caches']);
    const ok = await compareTrees(pair, { absence: rules });
    assert.deepEqual(ok.firstDifferences, []);
    assert.deepEqual(ok.notStoredPaths, [{ path: '/t/sock', why: 'not stored by restic (socket)' }]);
    assert.deepEqual(ok.excludedPaths, ['/t/cache/sub', '/t/cache/y']);
    assert.equal(ok.unjudged, 0);
    assert.ok(ok.entries >= 5, 'the name that is not UTF-8 was compared');
    // Lost: a file no rule explains (mtime of its directory put back, as restic would restore it).
    unlinkSync(`${dst}/keep`);
    execFileSync('touch', ['-h', '-r', src, dst]);
    const lost = await compareTrees(pair, { absence: rules });
    assert.deepEqual(lost.firstDifferences, [{ path: '/t/keep', what: 'missing from the backup' }]);
    unlinkSync(Buffer.from(`${dst}/bad-\xff-name`, 'latin1'));
    const lost2 = await compareTrees(pair, { absence: rules });
    assert.ok(lost2.firstDifferences.some((d) => d.path === '/t/bad-\\xff-name'), JSON.stringify(lost2.firstDifferences));
    // A name with a newline, lost: named on one line, escaped; a pattern excuses it only if it really matches.
    writeFileSync(`${src}/two\nlines.txt`, 'x');
    const nl = await compareTrees(pair, { absence: resticAbsence(['restic', 'backup'], ['--exclude', 'two?lines.txt', '--exclude-caches']) });
    assert.ok(nl.excludedPaths.includes('/t/two\\x0alines.txt'), JSON.stringify(nl.excludedPaths));
    const nl2 = await compareTrees(pair, { absence: resticAbsence(['restic', 'backup'], ['--exclude', 'two', '--exclude-caches']) });
    assert.ok(nl2.firstDifferences.some((d) => d.path === '/t/two\\x0alines.txt' && !d.path.includes('\n')), JSON.stringify(nl2.firstDifferences));
    unlinkSync(`${src}/two\nlines.txt`);
    // Without the engine's knowledge, the socket is a loss.
    const blind = await compareTrees(pair, { absence: NO_ABSENCE });
    assert.ok(blind.firstDifferences.some((d) => d.path === '/t/sock'));
  } finally {
    srv.close();
    rmSync(base, { recursive: true, force: true });
  }
});

test("restic's --exclude-file and --iexclude-file: read as restic reads them, each pattern judged", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-exfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'excludes');
  writeFileSync(f, '\ufeff# a comment\n\n  *.tmp  \r\n\t# indented comment\n/data/$HOME_SUB/cache\n${PROJ}.log\ncost$$\nend$\n${}x\n');
  const env = { HOME_SUB: 'u', PROJ: 'p' };
  const a = resticAbsence(['restic', 'backup'], ['--exclude-file', f, `--iexclude-file=${f}`], env);
  assert.deepEqual(a.unknown, []);
  const pats = ['*.tmp', '/data/u/cache', 'p.log', 'cost$', 'end$', 'x'];
  assert.deepEqual(a.rules, [
    ...pats.map((pattern) => ({ kind: 'restic-pattern', pattern, insensitive: false, option: `--exclude-file ${f}:` })),
    ...pats.map((pattern) => ({ kind: 'restic-pattern', pattern, insensitive: true, option: `--iexclude-file ${f}:` })),
  ]);
  // A missing entry that a pattern of the file explains is excluded; one that none explains is lost.
  const entry = (p: string) => ({ path: Buffer.from(p), kind: 'file' as const, size: 1n, sibling: () => null });
  assert.equal(judgeAbsent(a, entry('/data/u/cache')).verdict, 'excluded');
  assert.equal(judgeAbsent(a, entry('/x/a.TMP')).verdict, 'excluded');
  assert.equal(judgeAbsent(a, entry('/y/a.txt')).verdict, 'lost');
  // Without restic's environment a pattern that names a variable cannot be known: the file is not judged.
  const b = resticAbsence(['restic', 'backup'], ['--exclude-file', f]);
  assert.deepEqual(b.rules, []);
  assert.match(b.unknown[0]!, /names the environment variable HOME_SUB/);
  assert.equal(judgeAbsent(b, entry('/y/a.txt')).verdict, 'unjudged');
  // A variable restic does not have expands to nothing, as in Go.
  writeFileSync(f, '/a/$NOPE/b\n');
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['--exclude-file', f], {}).rules.map((r) => (r as { pattern: string }).pattern), ['/a//b']);
  // UTF-16 with a byte order mark is decoded; a relative path is not judged.
  writeFileSync(f, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('*.iso\r\n', 'utf16le')]));
  assert.deepEqual(resticAbsence(['restic', 'backup'], ['--exclude-file', f], {}).rules.map((r) => (r as { pattern: string }).pattern), ['*.iso']);
  assert.match(resticAbsence(['restic', 'backup'], ['--exclude-file', 'rel'], {}).unknown[0]!, /relative to restic's working directory/);
});

test('goExpand: Go os.Expand, including its odd corners', () => {
  const env: Record<string, string> = { A: 'x', B_1: 'y', '1': 'one', '$': '$' };
  const e = (s: string) => goExpand(s, (n) => env[n] ?? '');
  assert.equal(e('$A/${B_1}/$B_1z'), 'x/y/');
  assert.equal(e('$$'), '$');
  assert.equal(e('a$'), 'a$');
  assert.equal(e('$-'), '');
  assert.equal(e('$1x'), 'onex');
  assert.equal(e('${}z'), 'z');
  assert.equal(e('${A'), 'A');
  assert.equal(e('a $/b'), 'a $/b');
  assert.equal(e('${#}'), '');
});
