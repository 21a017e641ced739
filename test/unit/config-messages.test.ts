// Configuration messages in the user's words, at the line that sets the value:
// a job's problem with a value it inherits points at [defaults] (in the main
// file or a drop-in), a bad choice names the choices and the likely one, and a
// bad job name says what a job name is.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KOPIATOMIC } from '../../src/config/job.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';
import { resolveJobs } from '../../src/config/resolve.js';

function files(t: { after(fn: () => void): void }, tree: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'kt-messages-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(join(d, name, '..'), { recursive: true });
    writeFileSync(join(d, name), text);
    chmodSync(join(d, name), 0o600);
  }
  return d;
}

function problems(f: () => unknown): Problem[] {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, (e as Error).message);
    return e.problems;
  }
  assert.fail('accepted');
}

const resolve = (file: string) => resolveJobs(loadConfig(file), [], { flavour: KOPIATOMIC, readEnvFiles: true });

test("a job's problem with an inherited env_files points at [defaults], its own at its own line", (t) => {
  const d = files(t, {
    'kopiatomic.toml': '[defaults]\nengine = "restic"\nenv_files = { RESTIC_PASSWORD = "/nonexistent/kt-pw" }\n\n[jobs.home]\ndatasets = ["tank/h"]\n[jobs.srv]\ndatasets = ["tank/s"]\nenv_files = { RESTIC_PASSWORD = "/nonexistent/kt-pw2" }\n',
  });
  const ps = problems(() => resolve(join(d, 'kopiatomic.toml')));
  assert.deepEqual(ps.map((p) => [p.line, p.message.split(':')[0]]), [[3, 'job home'], [9, 'job srv']]);
});

test('inherited from [defaults] in a drop-in: the drop-in and its line', (t) => {
  const d = files(t, {
    'kopiatomic.toml': '[jobs.home]\ndatasets = ["tank/h"]\nengine = "restic"\n',
    'conf.d/secrets.toml': '# the password\n[defaults]\nenv_files = { RESTIC_PASSWORD = "/nonexistent/kt-pw" }\n',
  });
  const [p] = problems(() => resolve(join(d, 'kopiatomic.toml')));
  assert.equal(p!.file, join(d, 'conf.d/secrets.toml'));
  assert.equal(p!.line, 3);
});

test('a bad choice names the choices and the likely one; a bad job name says what a job name is', (t) => {
  const d = files(t, { 'kopiatomic.toml': '[defaults]\nengine = "restik"\n[jobs.default]\ndatasets = ["a"]\n[jobs."a b"]\ndatasets = ["b"]\n' });
  const ps = problems(() => loadConfig(join(d, 'kopiatomic.toml')));
  assert.deepEqual(ps.map((p) => p.line), [2, 3, 5]);
  assert.equal(ps[0]!.message, 'defaults.engine: "restik" is not one of kopia, restic, command (did you mean restic?)');
  assert.match(ps[1]!.message, /^job name "default": a job cannot be named .*default/);
  assert.match(ps[2]!.message, /^job name "a b": a job name is letters, digits/);
  for (const p of ps) assert.doesNotMatch(p.message, /Invalid (option|key)/);
});
