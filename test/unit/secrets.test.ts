// Secrets by value: the rule (core/secrets.ts), the refusal of a readable
// file that holds one, and the mask on every printer (reporter lines, events,
// the ping body, the status file, `config show`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KOPIATOMIC } from '../../src/config/job.js';
import { configShowCommand } from '../../src/cli/config.js';
import type { CommandContext } from '../../src/cli/lifecycle.js';
import { parseCommandLine } from '../../src/cli/args.js';
import { loadConfig, secretsIn } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';
import { resolveJobs } from '../../src/config/resolve.js';
import { Reporter } from '../../src/core/report.js';
import { forgetSecrets, isSecretName, MASK, maskDeep, maskedJson, maskText, rememberJobSecrets, rememberSecrets, secretsInWords, secretsOf } from '../../src/core/secrets.js';
import { recordRun } from '../../src/ops/status-file.js';
import { record } from './ops-helpers.js';

function dir(t: { after: (f: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'kt-secrets-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function problems(f: () => unknown): Problem[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

test('the rule: secret names (documented and by pattern), not their files, paths or ids', () => {
  for (const n of ['RESTIC_PASSWORD', 'RESTIC_REST_PASSWORD', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID', 'AZURE_ACCOUNT_KEY', 'AZURE_ACCOUNT_SAS', 'B2_ACCOUNT_KEY', 'OS_PASSWORD', 'OS_AUTH_TOKEN', 'OS_APPLICATION_CREDENTIAL_SECRET', 'ST_KEY', 'GOOGLE_ACCESS_TOKEN', 'KOPIA_PASSWORD', 'MY_API_TOKEN', 'azure_account_sas'])
    assert.equal(isSecretName(n), true, n);
  for (const n of ['RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND', 'RESTIC_REPOSITORY', 'RESTIC_KEY_HINT', 'GOOGLE_APPLICATION_CREDENTIALS', 'KOPIA_CONFIG_PATH', 'B2_ACCOUNT_ID', 'AZURE_ACCOUNT_NAME', 'RESTIC_REST_USERNAME', 'SASQUATCH', 'RESTIC_CACHE_DIR'])
    assert.equal(isSecretName(n), false, n);
});

test('the rule: URL user info in any value; ssh and sftp only their password', () => {
  const cases: [string, string][] = [
    ['rest:https://user:password@host:8000/repo/', 'rest:https://********@host:8000/repo/'],
    ['s3:https://AKIAKEY:secret@s3.example.com/bucket', 's3:https://********@s3.example.com/bucket'],
    ['rest:https://u:p%40ss%2Fw@h/', 'rest:https://********@h/'],
    ['rest:https://u:p@ss@h/x', 'rest:https://********@h/x'],
    ['https://ghp_token@github.com/x.git', 'https://********@github.com/x.git'],
    ['sftp://backup@host//srv/restic', 'sftp://backup@host//srv/restic'],
    ['sftp://backup:pw1234@host//srv', 'sftp://backup:********@host//srv'],
    ['sftp:backup@host:/srv/restic', 'sftp:backup@host:/srv/restic'],
    ['ssh://git@host/x', 'ssh://git@host/x'],
    ['run -r "rest:http://a:bcde@h/" and "x@y"', 'run -r "rest:http://********@h/" and "x@y"'],
    ['no url here: user@example.com', 'no url here: user@example.com'],
  ];
  for (const [text, want] of cases) assert.equal(maskText(text), want, text);
  assert.deepEqual(secretsOf('rest:https://user:password@host/'), ['user:password']);
  assert.deepEqual(secretsOf('sftp:backup@host:/srv'), []);
  assert.deepEqual(secretsOf('?sv=2020&sig=abc', { env: 'AZURE_ACCOUNT_SAS' }), ['?sv=2020&sig=abc']);
  assert.deepEqual(secretsOf('https://hc.example/ping/uuid', { key: 'ping_url' }), ['https://hc.example/ping/uuid']);
  assert.deepEqual(secretsOf('/root/pw', { env: 'RESTIC_PASSWORD_FILE' }), []);
});

test('the mask: remembered values anywhere (longest first), deep in events, idempotent', () => {
  forgetSecrets();
  rememberSecrets(['hunter2hunter2', 'abc']);
  assert.equal(maskText('fatal: wrong password hunter2hunter2 for repo'), `fatal: wrong password ${MASK} for repo`);
  assert.equal(maskText('abc is too short to be one'), 'abc is too short to be one');
  assert.deepEqual(maskDeep({ argv: ['kopia', '--password=hunter2hunter2'], n: 3, k: { 'rest:https://a:b@h/': true } }), { argv: ['kopia', `--password=${MASK}`], n: 3, k: { 'rest:https://********@h/': true } });
  assert.equal(maskText(maskText('rest:https://u:pw@h/')), 'rest:https://********@h/');
  forgetSecrets();
});

test('the events\' mask (maskedJson): the same line as maskDeep, also for secrets that JSON escapes, in keys and deep values', () => {
  forgetSecrets();
  const quoted = 'pa"ss\\word\n1';
  rememberSecrets(['hunter2hunter2', quoted]);
  const cases: unknown[] = [
    { event: 'step', target: '/kopia/tank/home', n: 1, ok: true, none: null },
    { argv: ['kopia', '--password=hunter2hunter2'] },
    { deep: [{ x: [`say ${quoted} twice: ${quoted}`] }] },
    { [`key-${quoted}`]: 1 },
    { repo: 'rest:https://u:pw@h/' },
    { time: new Date(0), url: 'https://example.org/no-user-info' },
  ];
  for (const c of cases) assert.equal(maskedJson(c), JSON.stringify(maskDeep(c)));
  // What no secret touches is printed as it is.
  assert.equal(maskedJson(cases[0]), JSON.stringify(cases[0]));
  assert.ok(!maskedJson(cases[2]).includes('word'), 'the escaped secret is masked');
  forgetSecrets();
});

test('refusal: a group- or world-readable file holding a secret by value names the key, its line and the fix', (t) => {
  const d = dir(t);
  const text = '[defaults]\nmount_root = "/kopia"\n\n[jobs.a]\ndatasets = ["tank/a"]\nenv = { RESTIC_REPOSITORY = "rest:https://user:secret@host/" }\n[jobs.b]\ndatasets = ["tank/b"]\nenv.AZURE_ACCOUNT_SAS = "sv=2020&sig=xyz"\noptions = ["-o", "s3.x=1", "--repo=s3:https://KEY:SECRET@s3/b"]\n';
  for (const mode of [0o644, 0o640, 0o604]) {
    const f = join(d, `k${mode}.toml`);
    writeFileSync(f, text);
    chmodSync(f, mode);
    const ps = problems(() => loadConfig(f));
    assert.deepEqual(ps.map((p) => [p.line, p.message.split(' ')[0]]), [
      [6, 'jobs.a.env.RESTIC_REPOSITORY'],
      [9, 'jobs.b.env.AZURE_ACCOUNT_SAS'],
      [10, 'jobs.b.options'],
    ]);
    assert.match(ps[0]!.message, /group or others can read this file \(mode 0\d\d\d\): chmod 600 .*or move the secret to a file of its own read with env_files/);
    assert.ok(!ps.some((p) => /secret@|sig=xyz|SECRET@/.test(p.message)), 'no message quotes the secret');
  }
  const ok = join(d, 'ok.toml');
  writeFileSync(ok, text);
  chmodSync(ok, 0o600);
  assert.doesNotThrow(() => loadConfig(ok));
  // Not secrets: an sftp login, a path to a password, a plain repository.
  const plain = join(d, 'plain.toml');
  writeFileSync(plain, '[jobs.a]\ndatasets = ["tank/a"]\nenv = { RESTIC_REPOSITORY = "sftp:backup@host:/srv/r", RESTIC_PASSWORD_FILE = "/root/pw" }\n');
  chmodSync(plain, 0o644);
  assert.doesNotThrow(() => loadConfig(plain));
  assert.deepEqual(secretsIn({ jobs: { a: { pre_hook: 'curl -fsS https://u:tok@h/x' } } }), [['jobs', 'a', 'pre_hook']]);
});

test('every printer masks: reporter lines, events, --json logs, the ping body, the status file, config show', async (t) => {
  forgetSecrets();
  const d = dir(t);
  const f = join(d, 'k.toml');
  writeFileSync(f, '[jobs.a]\ndatasets = ["tank/a"]\nping_url = "https://hc.example/ping/s3cr3t-uuid"\nenv = { RESTIC_REPOSITORY = "rest:https://user:pa55word@host/", AZURE_ACCOUNT_SAS = "sv=2020&sig=SASVALUE" }\npre_hook = "curl https://u:hooktoken@h/"\n');
  chmodSync(f, 0o600);
  const leaked = /pa55word|SASVALUE|s3cr3t-uuid|hooktoken/;
  // config show, text and --json
  for (const json of [false, true]) {
    const lines: string[] = [];
    const reporter = new Reporter({ json, verbosity: 1, name: 't', out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const opts = parseCommandLine(['--config', f, 'config', 'show', ...(json ? ['--json'] : [])], KOPIATOMIC);
    await configShowCommand(opts, { flavour: KOPIATOMIC, reporter, platform: { name: 'linux' } } as unknown as CommandContext);
    assert.ok(lines.length > 0);
    assert.doesNotMatch(lines.join('\n'), leaked, lines.join('\n'));
    assert.match(lines.join('\n'), /rest:https:\/\/\*{8}@host\//);
  }
  // Once resolved, the values are known: an engine's error quoting one is masked too.
  resolveJobs(loadConfig(f), [], { flavour: KOPIATOMIC, readEnvFiles: false });
  for (const json of [false, true]) {
    const out: string[] = [];
    const heard: string[] = [];
    const r = new Reporter({ json, verbosity: 2, name: 't', out: (l) => out.push(l), err: (l) => out.push(l) });
    r.listen((l) => heard.push(l));
    r.error('restic: Fatal: unable to open repository at rest:https://user:pa55word@host/: 401');
    r.warn('azure said: sv=2020&sig=SASVALUE is expired');
    r.verbose('run: curl https://hc.example/ping/s3cr3t-uuid/fail');
    r.event('exec', { argv: ['restic', '-r', 'rest:https://user:pa55word@host/', 'backup'] });
    r.print('sh -c "curl https://u:hooktoken@h/"');
    assert.doesNotMatch(out.join('\n') + heard.join('\n'), leaked, out.join('\n'));
    assert.equal(out.length, json ? 5 : 4); // the event is printed only with --json
  }
  // The status file: the error it records is masked.
  const sf = join(d, 'status.json');
  await recordRun(sf, record({ job: 'a', status: 'backup-failed', exitCode: 3, error: 'restic -r rest:https://user:pa55word@host/ failed: sv=2020&sig=SASVALUE' }));
  const stored = readFileSync(sf, 'utf8');
  assert.doesNotMatch(stored, leaked);
  assert.match(stored, /\*{8}/);
  forgetSecrets();
});

test('secrets in a command line: --password=X, --password X and URL user info; not --password-file, not --no-password', () => {
  assert.deepEqual(secretsInWords(['kopia', 'snapshot', 'create', '--password=hunter22']), ['hunter22']);
  assert.deepEqual(secretsInWords(['--server-password', 'pw4567', '-r', 'rest:https://u:p@h/']), ['pw4567', 'u:p']);
  assert.deepEqual(secretsInWords(['--password-file', '/root/pw', '--no-password', '/x', '--key-hint', 'abcd']), []);
  assert.deepEqual(secretsIn({ jobs: { a: { options: '--one --password "two words"' }, b: { command: ['kopia', '--password=xyzw'] }, c: { options: ['--password-file', '/root/pw'] } } }), [
    ['jobs', 'a', 'options'],
    ['jobs', 'b', 'command'],
  ]);
  forgetSecrets();
  assert.deepEqual(rememberJobSecrets({ env: {}, pingUrl: null, command: ['kopia'], options: ['--password=hunter22'], verifyCommand: null }), ['hunter22']);
  assert.equal(maskText('run: kopia --password=hunter22 snapshot'), `run: kopia --password=${MASK} snapshot`);
  forgetSecrets();
});
