import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, journalPath, readPending } from '../../src/safety/journal.js';

function tmp(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const umount = (t: string) => ({ kind: 'exec' as const, mutates: true, argv: ['umount', t] });

test('journalPath: one file per mount root, the root encoded', () => {
  assert.equal(journalPath('/run/kopiatomic', '/kopia'), '/run/kopiatomic/%2Fkopia.journal');
  assert.equal(journalPath('/s', '/srv/my root'), '/s/%2Fsrv%2Fmy%20root.journal');
});

test('readPending: no file, nothing pending', () => {
  assert.deepEqual(readPending('/nonexistent/kopiatomic/x.journal'), []);
});

test('Journal + readPending: undone entries drop out, the rest come newest first', (t) => {
  const path = join(tmp(t), 'j.journal');
  const j = new Journal(path, 'RUN1');
  j.begin('kopiatomic-RUN1', 'boot:1', '/kopia');
  const a = j.willDo('destroy', { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 'tank@s'] });
  const b = j.willDo('rmdir', { kind: 'rmdir', path: '/kopia' });
  const c = j.willDo('umount', umount('/kopia/a'));
  assert.deepEqual([a, b, c], [1, 2, 3]);
  j.undone(c);
  j.close(false);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readPending(path), [
    { seq: 2, phase: 'rmdir', action: { kind: 'rmdir', path: '/kopia' }, runId: 'RUN1' },
    { seq: 1, phase: 'destroy', action: { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 'tank@s'] }, runId: 'RUN1' },
  ]);
  // every line is one JSON object carrying the run id
  for (const line of readFileSync(path, 'utf8').trim().split('\n')) assert.equal((JSON.parse(line) as { runId: string }).runId, 'RUN1');
});

test('readPending: a torn last line (crash mid-write) is ignored, the rest is read', (t) => {
  const path = join(tmp(t), 'torn.journal');
  const lines = [
    { op: 'begin', runId: 'R', snapshot: 's', owner: 'b:1', mountRoot: '/k' },
    { op: 'undo', seq: 1, phase: 'destroy', action: { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 'tank@s'] }, runId: 'R' },
    { op: 'undo', seq: 2, phase: 'release', action: { kind: 'exec', mutates: true, argv: ['zfs', 'release', 'kopiatomic', 'tank@s'] }, runId: 'R' },
  ];
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  appendFileSync(path, '{"op":"undo","seq":3,"phase":"umount","action":{"kind":"exec","mut');
  const p = readPending(path);
  assert.deepEqual(p.map((x) => [x.seq, x.phase]), [[2, 'release'], [1, 'destroy']]);
  // a torn "done" does not count either: the undo stays pending
  writeFileSync(path, JSON.stringify(lines[1]) + '\n{"op":"done","se');
  assert.deepEqual(readPending(path).map((x) => x.seq), [1]);
});

test('a new run appending to a journal with a torn last line keeps its own lines readable', (t) => {
  const path = join(tmp(t), 'append.journal');
  writeFileSync(path, JSON.stringify({ op: 'undo', seq: 1, phase: 'rmdir', action: { kind: 'rmdir', path: '/k' }, runId: 'OLD' }) + '\n{"op":"undo","seq":2,"pha');
  const j = new Journal(path, 'NEW');
  j.willDo('umount', umount('/k/new'));
  j.close(false);
  assert.deepEqual(readPending(path), [
    { seq: 1, phase: 'umount', action: umount('/k/new'), runId: 'NEW' },
    { seq: 1, phase: 'rmdir', action: { kind: 'rmdir', path: '/k' }, runId: 'OLD' },
  ]);
});

test('readPending: entries of two runs are kept apart by run id', (t) => {
  const path = join(tmp(t), 'two.journal');
  const one = new Journal(path, 'A');
  one.willDo('umount', umount('/k/a'));
  one.close(false);
  const two = new Journal(path, 'B');
  const s = two.willDo('umount', umount('/k/b'));
  two.undone(s); // seq 1 of B is done; seq 1 of A is not
  two.close(false);
  assert.deepEqual(readPending(path), [{ seq: 1, phase: 'umount', action: umount('/k/a'), runId: 'A' }]);
});

test('Journal.close(true) removes the file', (t) => {
  const path = join(tmp(t), 'gone.journal');
  const j = new Journal(path, 'R');
  j.willDo('umount', umount('/k'));
  assert.ok(existsSync(path));
  j.close(true);
  assert.equal(existsSync(path), false);
});
