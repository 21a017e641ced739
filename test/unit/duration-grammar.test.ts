// One duration grammar: what `status --max-age` takes, `max_age` in the file
// takes too (and the same words are refused by both).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KOPIATOMIC } from '../../src/config/job.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveJobs } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/problems.js';
import { parseDuration } from '../../src/core/duration.js';

function maxAgeOf(t: { after(fn: () => void): void }, value: string): number | null {
  const d = mkdtempSync(join(tmpdir(), 'kt-duration-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'kopiatomic.toml');
  writeFileSync(f, `[jobs.a]\ndatasets = ["tank/a"]\nmax_age = ${JSON.stringify(value)}\n`);
  chmodSync(f, 0o600);
  return resolveJobs(loadConfig(f), [], { flavour: KOPIATOMIC, readEnvFiles: false })[0]!.maxAgeSeconds;
}

test('max_age in the file reads every duration status --max-age reads, to the same seconds', (t) => {
  for (const v of ['26h', '1d12h', '1.5h', '1h 30m', '3600', '90s', '2w']) {
    assert.equal(maxAgeOf(t, v), parseDuration(v), v);
  }
  assert.equal(maxAgeOf(t, '1h 30m'), 5400);
});

test('max_age refuses what --max-age refuses, pointing at its line', (t) => {
  for (const v of ['nightly', '', '1x', '-5m', 'h']) {
    assert.throws(() => parseDuration(v), v);
    try {
      maxAgeOf(t, v);
      assert.fail(`max_age = "${v}" was accepted`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, (e as Error).message);
      assert.equal(e.problems[0]!.line, 3, v);
      assert.match(e.problems[0]!.message, /duration such as/);
    }
  }
});
