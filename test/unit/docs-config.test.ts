// The configuration examples and the key table cannot rot: the README's
// example and the complete one of docs/configuration.md are loaded and every
// job resolved as `config check` does, and every key of the schema must be
// in the reference's key table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KOPIATOMIC, type JobOptions } from '../../src/config/job.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveJobs } from '../../src/config/resolve.js';
import { KNOWN_KEYS } from '../../src/config/schema.js';
import { ROOT_DIR } from './paths.js';

const read = (file: string) => readFileSync(join(ROOT_DIR, file), 'utf8');
const README = read('README.md');
const CONFIGURATION = read('docs/configuration.md');
const REFERENCE = read('docs/reference.md');

/** The first toml block after `heading` in `doc`. */
function exampleBlock(doc: string, heading: string): string {
  const at = doc.indexOf(heading);
  assert.ok(at >= 0, `the page has "${heading}"`);
  const m = /```toml\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(m, 'a toml block follows it');
  return m[1]!;
}

/** The jobs of a configuration file with `text`, resolved as `config check` does. */
function resolve(t: { after: (f: () => void) => void }, text: string): JobOptions[] {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-docs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'kopiatomic.toml');
  writeFileSync(f, text);
  chmodSync(f, 0o600);
  return resolveJobs(loadConfig(f), [], { flavour: KOPIATOMIC, readEnvFiles: false });
}

test("the complete example of docs/configuration.md is a valid configuration", (t) => {
  const jobs = resolve(t, exampleBlock(CONFIGURATION, '## A complete example'));
  assert.deepEqual(jobs.map((j) => j.job), ['home', 'marked', 'vms']);
  assert.equal(jobs[1]!.property, true);
  assert.equal(jobs[2]!.engine.name, 'kopia');
  assert.equal(jobs[2]!.verifyPercent, 100);
});

test("the README's example is a valid configuration", (t) => {
  const jobs = resolve(t, exampleBlock(README, '## Configuration'));
  assert.deepEqual(jobs.map((j) => j.job), ['home']);
  assert.equal(jobs[0]!.engine.name, 'restic');
  assert.equal(jobs[0]!.recursive, true);
  assert.deepEqual(jobs[0]!.repositories.map((r) => [r.name, r.env['RESTIC_REPOSITORY']]), [['local', '/backup/restic'], ['offsite', '/mnt/offsite/restic']]);
  assert.deepEqual(jobs[0]!.retention, { keepLast: 3, keepHourly: undefined, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: undefined, prune: true });
});

test('every key of the schema is in the reference', () => {
  const at = REFERENCE.indexOf('## Configuration keys');
  assert.ok(at >= 0, 'docs/reference.md has "## Configuration keys"');
  const table = REFERENCE.slice(at, REFERENCE.indexOf('\n## ', at + 1));
  for (const k of KNOWN_KEYS.defaults) assert.ok(table.includes(`\`${k}\``), `the key table of docs/reference.md has \`${k}\``);
  const docs = REFERENCE + CONFIGURATION;
  for (const k of KNOWN_KEYS.top) assert.ok(docs.includes(`\`${k}\``), `docs/reference.md or docs/configuration.md documents \`${k}\``);
  for (const c of ['kopiatomic:backup', 'config check', 'config show', 'kopiatomic jobs', 'run [JOB...]', '--property', '--config FILE']) assert.ok(docs.includes(c), c);
});
