import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hmacSha256, sha256 } from '../../src/core/sha256.js';
import { proofFor } from '../../src/plan/proof-value.js';
import { manualRemoval, proofKey, proofKeyPath, proofProblem, readProofKey, runTime } from '../../src/safety/proof.js';

function tmp(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-proof-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('sha256 and hmacSha256 agree with node:crypto (every length around the block edges, long keys)', () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70000]) {
    const data = randomBytes(n);
    assert.equal(sha256(data).toString('hex'), createHash('sha256').update(data).digest('hex'), `sha256 of ${n} bytes`);
    for (const k of [0, 16, 32, 64, 65, 200]) {
      const key = randomBytes(k);
      assert.equal(hmacSha256(key, data).toString('hex'), createHmac('sha256', key).update(data).digest('hex'), `hmac, ${k}-byte key, ${n} bytes`);
    }
  }
  assert.equal(hmacSha256(Buffer.from('k'), 'é\0x').toString('hex'), createHmac('sha256', 'k').update('é\0x', 'utf8').digest('hex'));
});

const KEY = Buffer.alloc(32, 9);
const RUN = '20261127T104100Z-4242-a1b2c3';
const OWNER = 'h1:boot-old:4242';
const T = Date.UTC(2026, 10, 27, 10, 41, 0) / 1000;
const good = { name: `tank/a@kopiatomic-${RUN}`, run: RUN, owner: OWNER, proof: proofFor(KEY, 'tank', `kopiatomic-${RUN}`, RUN, OWNER), creation: T + 2 };

test('runTime: the time in a run id; none in anything else', () => {
  assert.equal(runTime(RUN), T);
  assert.equal(runTime('R1'), null);
  assert.equal(runTime('2026-11-27'), null);
});

test('proofProblem: a snapshot made by our run with our key verifies; any other is refused with the reason', () => {
  assert.equal(proofProblem(KEY, good), null);
  // The dataset is not part of it (one value per pool's snapshot command).
  assert.equal(proofProblem(KEY, { ...good, name: `tank/b/c@kopiatomic-${RUN}` }), null);
  assert.match(proofProblem(KEY, { ...good, proof: null })!, /no kopiatomic:proof/);
  assert.match(proofProblem(null, good)!, /no proof key/);
  assert.match(proofProblem(Buffer.alloc(32, 1), good)!, /does not verify/);
  assert.match(proofProblem(KEY, { ...good, proof: good.proof.slice(0, -1) + (good.proof.endsWith('0') ? '1' : '0') })!, /does not verify/);
  assert.match(proofProblem(KEY, { ...good, name: `other/a@kopiatomic-${RUN}` })!, /does not verify/, 'copied to another pool');
  assert.match(proofProblem(KEY, { ...good, owner: 'h1:boot-old:1' })!, /does not verify/, 'another owner');
  // A copied proof on an older snapshot renamed to our name, or on one made much later.
  assert.match(proofProblem(KEY, { ...good, creation: T - 86400 })!, /not while its run was/);
  assert.match(proofProblem(KEY, { ...good, creation: T + 7200 })!, /not while its run was/);
  assert.match(proofProblem(KEY, { ...good, creation: null })!, /creation time/);
});

test('proofKey: made once, random, 0600, then read back; a key others can read is replaced (with a warning)', (t) => {
  const dir = tmp(t);
  const warnings: string[] = [];
  const k1 = proofKey(dir, (m) => warnings.push(m));
  assert.equal(k1.length, 32);
  assert.equal(statSync(proofKeyPath(dir)).mode & 0o777, 0o600);
  assert.deepEqual(proofKey(dir, (m) => warnings.push(m)), k1);
  assert.equal(warnings.length, 0);
  chmodSync(proofKeyPath(dir), 0o644);
  assert.equal(readProofKey(dir).key, null);
  assert.match(readProofKey(dir).problem!, /can be read by other accounts/);
  const k2 = proofKey(dir, (m) => warnings.push(m));
  assert.notDeepEqual(k2, k1);
  assert.equal(warnings.length, 1);
  assert.equal(statSync(proofKeyPath(dir)).mode & 0o777, 0o600);
  writeFileSync(proofKeyPath(dir), 'not a key\n', { mode: 0o600 });
  assert.match(readProofKey(dir).problem!, /not a key of ours/);
  assert.equal(readFileSync(proofKeyPath(dir), 'utf8'), 'not a key\n', 'reading never changes it');
});

test('manualRemoval: the commands an admin runs, quoted for the shell', () => {
  assert.equal(manualRemoval('t/a@kopiatomic-R'), 'zfs release kopiatomic t/a@kopiatomic-R; zfs destroy t/a@kopiatomic-R');
  assert.equal(manualRemoval("t/a b@kopiatomic-R"), "zfs release kopiatomic 't/a b@kopiatomic-R'; zfs destroy 't/a b@kopiatomic-R'");
});
