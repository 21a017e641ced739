// The configuration file: schema, drop-ins, defaults and flags merged, every
// bad-input kind with its file:line:column, secrets, and the README example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { KOPIATOMIC, RESTOMIC } from '../../src/config/job.js';
import { didYouMean, loadConfig } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';
import { locate } from '../../src/config/locate.js';
import { checkNestedMountRoots, resolveJob, resolveJobs } from '../../src/config/resolve.js';
import { durationSeconds, jsonSchema } from '../../src/config/schema.js';
import { isSecretName } from '../../src/core/secrets.js';
import { SCHEMA_FILE, schemaText } from '../../src/config/emit-schema.js';
import { ROOT_DIR } from './paths.js';

/** The example of issue 11, which must work exactly as written. */
export const ISSUE_EXAMPLE = `[defaults]
engine = "restic"

[jobs.home]
datasets = ["tank/home"]          # dataset names or mount points
recursive = true
mount_root = "/restic-home"
env = { RESTIC_REPOSITORY = "/backup/home", RESTIC_PASSWORD_FILE = "/root/restic-pw" }

[jobs.marked]
select = "property"               # datasets whose kopiatomic:backup selects this job
layout = "paths"
env = { RESTIC_REPOSITORY = "/backup/marked", RESTIC_PASSWORD_FILE = "/root/restic-pw" }
`;

function dir(t: { after: (f: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'kopiatomic-config-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function write(path: string, text: string, mode = 0o600): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function problems(f: () => unknown): Problem[] {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error).message}`);
    assert.equal(e.exitCode, 2);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

const resolveAll = (file: string, names: string[] = [], argv: string[] = ['run']) =>
  resolveJobs(loadConfig(file), names, { flavour: KOPIATOMIC, readEnvFiles: false, flags: parseCommandLine(['--config', file, ...argv], KOPIATOMIC) });

test('the example of issue 11 loads as written: defaults inherited, both jobs resolved', (t) => {
  const f = write(join(dir(t), 'kopiatomic.toml'), ISSUE_EXAMPLE);
  const [home, marked] = resolveAll(f);
  assert.equal(home!.job, 'home');
  assert.equal(home!.engine.name, 'restic', 'from [defaults]');
  assert.deepEqual(home!.command, ['restic', 'backup']);
  assert.deepEqual(home!.targets, ['tank/home']);
  assert.equal(home!.recursive, true);
  assert.equal(home!.mountRoot, '/restic-home');
  assert.deepEqual(home!.env, { RESTIC_REPOSITORY: '/backup/home', RESTIC_PASSWORD_FILE: '/root/restic-pw' });
  assert.equal(home!.property, false);
  assert.equal(marked!.property, true);
  assert.deepEqual(marked!.targets, []);
  assert.equal(marked!.layout, 'paths');
  assert.equal(marked!.mountRoot, '/restic', 'a restic job assembles under /restic by default');
  assert.equal(marked!.env['RESTIC_REPOSITORY'], '/backup/marked');
  assert.equal(marked!.schedule, 'daily');
  assert.equal(marked!.verifyPercent, null);
  assert.equal(marked!.killAfter, 30);
  assert.equal(marked!.statusFile, '/var/lib/kopiatomic/status.json');
});

test('drop-ins apply in name order after the main file: tables merge key by key, lists replace', (t) => {
  const d = dir(t);
  const f = write(join(d, 'kopiatomic.toml'), '[defaults]\nengine = "restic"\nenv = { A = "1" }\n[jobs.a]\ndatasets = ["tank/a"]\nexclude = ["tank/a/x"]\n');
  write(join(d, 'conf.d/20-late.toml'), '[jobs.a]\nmount_root = "/late"\n');
  write(join(d, 'conf.d/10-early.toml'), '[jobs.a]\nmount_root = "/early"\nexclude = ["tank/a/y"]\n[defaults]\nenv = { B = "2" }\n[jobs.b]\ndatasets = ["tank/b"]\n');
  write(join(d, 'conf.d/ignored.txt'), 'not toml at all [');
  const cfg = loadConfig(f);
  assert.deepEqual(cfg.files.map((x) => x.path.slice(d.length)), ['/kopiatomic.toml', '/conf.d/10-early.toml', '/conf.d/20-late.toml']);
  const [a, b] = resolveAll(f);
  assert.equal(a!.mountRoot, '/late');
  assert.deepEqual(a!.excludes, ['tank/a/y']);
  assert.deepEqual(a!.env, { A: '1', B: '2' });
  assert.deepEqual(b!.targets, ['tank/b']);
  assert.deepEqual(resolveAll(f, ['b']).map((j) => j.job), ['b']);
});

test('flags given with run override the job; flags not given leave it alone', (t) => {
  const f = write(join(dir(t), 'k.toml'), '[jobs.a]\ndatasets = ["tank/a"]\nengine = "restic"\nmount_root = "/ra"\noptions = "--tag x"\nrecursive = true\n');
  const [plain] = resolveAll(f, [], ['run']);
  assert.equal(plain!.mountRoot, '/ra');
  assert.deepEqual(plain!.options, ['--tag', 'x']);
  const [over] = resolveAll(f, [], ['run', '--mount-root', '/other', '-o', '--tag y', '--layout', 'paths', '--exclude', 'tank/a/b']);
  assert.equal(over!.mountRoot, '/other');
  assert.deepEqual(over!.options, ['--tag', 'y']);
  assert.equal(over!.layout, 'paths');
  assert.deepEqual(over!.excludes, ['tank/a/b']);
  assert.equal(over!.recursive, true, 'not given: the job keeps it');
  assert.equal(over!.engine.name, 'restic', 'not given: the job keeps it');
  const [all] = resolveAll(f, [], ['run', '-a']);
  assert.equal(all!.all, true);
  assert.deepEqual(all!.targets, []);
});

test('bad input, each kind: exit 2 with file:line:column', async (t) => {
  const d = dir(t);
  await t.test('unknown key, with did you mean', () => {
    const f = write(join(d, 'a/k.toml'), '[defaults]\nengine = "restic"\n\n[jobs.home]\ndatasets = ["tank/home"]\n  recursiv = true\n');
    const [p] = problems(() => loadConfig(f));
    assert.deepEqual([p!.file, p!.line, p!.col], [f, 6, 3]);
    assert.match(p!.message, /unknown key jobs\.home\.recursiv \(did you mean recursive\?\)/);
  });
  await t.test('unknown key in an inline table position and at the top', () => {
    const f = write(join(d, 'b/k.toml'), 'defualts = { engine = "kopia" }\n');
    const [p] = problems(() => loadConfig(f));
    assert.deepEqual([p!.line, p!.col], [1, 1]);
    assert.match(p!.message, /unknown key defualts \(did you mean defaults\?\)/);
  });
  await t.test('wrong type', () => {
    const f = write(join(d, 'c/k.toml'), '[jobs.x]\ndatasets = ["tank/x"]\nrecursive = "yes"\nenv = { A = "1", B = 2 }\n');
    const ps = problems(() => loadConfig(f));
    assert.deepEqual(
      ps.map((p) => [p.line, p.col, p.message]),
      [
        [3, 1, 'jobs.x.recursive: expected boolean, got a string'],
        [4, 18, 'jobs.x.env.B: expected string, got a number'],
      ],
    );
  });
  await t.test('a value out of range and a bad enum', () => {
    const f = write(join(d, 'c2/k.toml'), '[jobs.x]\ndatasets = ["tank/x"]\nverify = 150\nlayout = "flat"\nmax_age = "soon"\n');
    const ps = problems(() => loadConfig(f));
    assert.deepEqual(ps.map((p) => p.line), [3, 4, 5]);
    assert.match(ps[2]!.message, /duration such as "26h"/);
  });
  await t.test('a job with no datasets', () => {
    const f = write(join(d, 'e/k.toml'), '[defaults]\nengine = "restic"\n\n[jobs.empty]\nrecursive = true\n');
    const [p] = problems(() => resolveAll(f));
    assert.deepEqual([p!.file, p!.line, p!.col], [f, 4, 1]);
    assert.match(p!.message, /job empty: no datasets/);
  });
  await t.test('an unknown job on the command line, with did you mean', () => {
    const f = write(join(d, 'f/k.toml'), ISSUE_EXAMPLE);
    const [p] = problems(() => resolveAll(f, ['hmoe']));
    assert.match(p!.message, /no job named "hmoe" \(did you mean home\?\); jobs: home, marked/);
  });
  await t.test('a drop-in that is not valid TOML names its file, line and column', () => {
    const f = write(join(d, 'g/k.toml'), ISSUE_EXAMPLE);
    const bad = write(join(d, 'g/conf.d/50-bad.toml'), '[jobs.extra]\ndatasets = ["tank/x"\nrecursive = true\n');
    const [p] = problems(() => loadConfig(f));
    assert.equal(p!.file, bad);
    assert.ok(p!.line >= 2, `line ${p!.line}`);
    assert.match(p!.message, /not valid TOML/);
  });
  await t.test('a missing --config file', () => {
    const [p] = problems(() => loadConfig(join(d, 'nope.toml')));
    assert.match(p!.message, /no configuration file/);
  });
  await t.test('a reserved or malformed job name', () => {
    const f = write(join(d, 'h/k.toml'), '[jobs.on]\ndatasets = ["a"]\n[jobs."a,b"]\ndatasets = ["b"]\n');
    const ps = problems(() => loadConfig(f));
    assert.equal(ps.length, 2);
    assert.deepEqual(ps.map((p) => p.line), [1, 3]);
  });
  await t.test('every problem of every file at once', () => {
    const f = write(join(d, 'i/k.toml'), '[jobs.a]\ndatasets = ["x"]\nrecurse = true\n');
    write(join(d, 'i/conf.d/b.toml'), '[jobs.b\n');
    assert.equal(problems(() => loadConfig(f)).length, 2);
  });
});

test('secrets: a file others can read that holds one is refused; masked values never appear in messages', (t) => {
  const d = dir(t);
  const text = '[jobs.a]\ndatasets = ["tank/a"]\nenv = { KOPIA_PASSWORD = "hunter2" }\nping_url = "https://hc.example/ping/abc"\n';
  const f = write(join(d, 'k.toml'), text, 0o644);
  const ps = problems(() => loadConfig(f));
  assert.deepEqual(ps.map((p) => p.line), [3, 4]);
  assert.match(ps[0]!.message, /jobs\.a\.env\.KOPIA_PASSWORD holds a secret .*but group or others can read this file \(mode 0644\): chmod 600/);
  assert.ok(!ps.some((p) => p.message.includes('hunter2')));
  chmodSync(f, 0o600);
  assert.equal(loadConfig(f).config.jobs?.['a']?.env?.['KOPIA_PASSWORD'], 'hunter2');
  const g = write(join(d, 'g/k.toml'), '[jobs.a]\ndatasets = ["tank/a"]\nenv = { RESTIC_PASSWORD_FILE = "/root/pw" }\n', 0o644);
  assert.doesNotThrow(() => loadConfig(g), 'a path to a secret is not a secret');
  assert.equal(isSecretName('RESTIC_PASSWORD'), true);
  assert.equal(isSecretName('AWS_SECRET_ACCESS_KEY'), true);
  assert.equal(isSecretName('RESTIC_PASSWORD_FILE'), false);
  assert.equal(isSecretName('RESTIC_REPOSITORY'), false);
});

test('env_files: the value is read from the file at run time (one trailing newline dropped), into the engine env only', (t) => {
  const d = dir(t);
  const pw = write(join(d, 'pw'), 's3cret\n');
  const f = write(join(d, 'k.toml'), `[jobs.a]\ndatasets = ["tank/a"]\nenv_files = { KOPIA_PASSWORD = "${pw}" }\n`);
  const loaded = loadConfig(f);
  assert.equal(resolveJob(loaded, 'a', { flavour: KOPIATOMIC, readEnvFiles: true }).env['KOPIA_PASSWORD'], 's3cret');
  assert.equal(resolveJob(loaded, 'a', { flavour: KOPIATOMIC, readEnvFiles: false }).env['KOPIA_PASSWORD'], undefined);
  rmSync(pw);
  const [p] = problems(() => resolveJob(loaded, 'a', { flavour: KOPIATOMIC, readEnvFiles: true }));
  assert.deepEqual([p!.line, p!.col], [3, 15]);
  assert.match(p!.message, /cannot read .*pw for KOPIA_PASSWORD: ENOENT/);
});

test('the options commands receive: new keys resolved with clear names', (t) => {
  const f = write(
    join(dir(t), 'k.toml'),
    'status_file = "/srv/status.json"\n[defaults]\nmax_age = "26h"\nkill_after = 30\n[jobs.a]\ndatasets = ["tank/a"]\nmetrics_file = "/var/lib/node_exporter/kt.prom"\nping_url = "https://hc.example/x"\nschedule = "*-*-* 02:30"\nverify = true\nverify_command = "restic check"\n[jobs.b]\ndatasets = ["tank/b"]\nverify = 5\nmax_age = "1d12h"\n',
  );
  const [a, b] = resolveAll(f);
  assert.deepEqual(
    { job: a!.job, metricsFile: a!.metricsFile, pingUrl: a!.pingUrl, maxAgeSeconds: a!.maxAgeSeconds, schedule: a!.schedule, verifyPercent: a!.verifyPercent, verifyCommand: a!.verifyCommand, killAfter: a!.killAfter, statusFile: a!.statusFile },
    { job: 'a', metricsFile: '/var/lib/node_exporter/kt.prom', pingUrl: 'https://hc.example/x', maxAgeSeconds: 93600, schedule: '*-*-* 02:30', verifyPercent: 100, verifyCommand: ['restic', 'check'], killAfter: 30, statusFile: '/srv/status.json' },
  );
  assert.equal(b!.verifyPercent, 5);
  assert.equal(b!.maxAgeSeconds, 36 * 3600);
  assert.equal(durationSeconds('2d'), 172800);
  const flag = parseCommandLine(['-r', 'tank'], RESTOMIC);
  assert.equal(flag.job, 'default');
  assert.equal(flag.statusFile, '/var/lib/kopiatomic/status.json');
  assert.equal(flag.verifyPercent, null);
});

test('kill_after and zfs_timeout: seconds or a duration, as their flags take; anything else at its line', (t) => {
  const d = dir(t);
  const [a, b] = resolveAll(write(join(d, 'k.toml'), '[defaults]\nkill_after = "2m"\n[jobs.a]\ndatasets = ["tank/a"]\nzfs_timeout = "1h30m"\n[jobs.b]\ndatasets = ["tank/b"]\nzfs_timeout = 60\n'));
  assert.deepEqual([a!.killAfter, a!.zfsTimeout, b!.killAfter, b!.zfsTimeout], [120, 5400, 120, 60]);
  const [p] = problems(() => loadConfig(write(join(d, 'bad.toml'), '[jobs.a]\ndatasets = ["tank/a"]\nzfs_timeout = "soon"\n')));
  assert.equal(p!.line, 3);
  assert.match(p!.message, /zfs_timeout.*number of seconds or a duration/);
});

test('locate: headers, dotted and quoted keys, inline tables', () => {
  const text = '# c\n[jobs."my job"]\n  a.b = 1\nenv = { X = "1", "Y Z" = { q = 2 } }\n[[x.y]]\n';
  assert.deepEqual(locate(text, ['jobs', 'my job']), { line: 2, col: 1 });
  assert.deepEqual(locate(text, ['jobs', 'my job', 'a', 'b']), { line: 3, col: 3 });
  assert.deepEqual(locate(text, ['jobs', 'my job', 'env', 'X']), { line: 4, col: 9 });
  assert.deepEqual(locate(text, ['jobs', 'my job', 'env', 'Y Z', 'q']), { line: 4, col: 28 });
  assert.deepEqual(locate(text, ['jobs', 'my job', 'nothing']), { line: 2, col: 1 });
  assert.deepEqual(locate(text, ['x', 'y']), { line: 5, col: 1 });
  assert.deepEqual(locate(text, ['elsewhere']), { line: 1, col: 1 });
});

test('didYouMean: close names only', () => {
  assert.equal(didYouMean('mountroot', ['mount_root', 'datasets']), 'mount_root');
  assert.equal(didYouMean('excludes', ['exclude', 'env']), 'exclude');
  assert.equal(didYouMean('zzzzzz', ['exclude', 'env']), null);
});

test('command-line: subcommands, job names, --config, and a dataset named like a command after --', () => {
  const r = parseCommandLine(['--config', '/c.toml', 'run', 'a', 'b', '-n'], KOPIATOMIC);
  assert.deepEqual([r.mode, r.names, r.configFile, r.dryRun, r.targets], ['run', ['a', 'b'], '/c.toml', true, []]);
  assert.equal(parseCommandLine(['config', 'check'], KOPIATOMIC).mode, 'config-check');
  const s = parseCommandLine(['config', 'show', 'home', '--json'], KOPIATOMIC);
  assert.deepEqual([s.mode, s.names, s.json], ['config-show', ['home'], true]);
  assert.equal(parseCommandLine(['jobs'], KOPIATOMIC).mode, 'jobs');
  const d = parseCommandLine(['-r', '--', 'run'], KOPIATOMIC);
  assert.deepEqual([d.mode, d.targets], ['backup', ['run']]);
  assert.throws(() => parseCommandLine(['config', 'frob'], KOPIATOMIC), /config needs check or show/);
  assert.throws(() => parseCommandLine(['--config', '/c', '-r', 'tank'], KOPIATOMIC), /--config goes with run/);
  assert.deepEqual([...parseCommandLine(['run', '--mount-root', '/m', '-r'], KOPIATOMIC).given].sort(), ['mountRoot', 'recursive']);
});

test('the JSON Schema shipped in schema/ is the schema (npm run build writes it)', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), schemaText(), 'run `npm run build` and commit schema/kopiatomic.schema.json');
  const s = jsonSchema() as { properties: Record<string, { properties?: Record<string, { description?: string; default?: unknown }> }> };
  const layout = s.properties['defaults']!.properties!['layout']!;
  assert.equal(layout.default, 'tree');
  assert.match(layout.description!, /tree/);
  assert.ok(SCHEMA_FILE.startsWith(ROOT_DIR));
});

test('a file others can change is refused when running as root: its hooks run as root', { skip: process.getuid?.() !== 0 }, (t) => {
  const f = write(join(dir(t), 'k.toml'), '[jobs.a]\ndatasets = ["tank/a"]\npre_hook = "true"\n', 0o666);
  const [p] = problems(() => loadConfig(f));
  assert.match(p!.message, /others can change this file .*mode 0666/);
});

test('jobs whose mount roots nest are refused at mount_root; equal roots and roots side by side are fine', (t) => {
  const d = dir(t);
  const f = write(join(d, 'k.toml'), '[jobs.a]\ndatasets = ["tank/a"]\nmount_root = "/X"\n[jobs.b]\ndatasets = ["tank/b"]\nmount_root = "/X/inner/"\n[jobs.c]\ndatasets = ["tank/c"]\nmount_root = "/X"\n[jobs.d]\ndatasets = ["tank/d"]\nmount_root = "/XY"\n');
  const loaded = loadConfig(f);
  const ps = problems(() => checkNestedMountRoots(resolveAll(f, []), loaded));
  assert.equal(ps.length, 2);
  assert.equal(ps[0]!.line, 6);
  assert.match(ps[0]!.message, /job b: mount root \/X\/inner nests with job a's \/X/);
  assert.match(ps[1]!.message, /job c: mount root \/X nests with job b's \/X\/inner/, 'c shares a\'s root but nests with b\'s');
  checkNestedMountRoots(resolveAll(f, ['a', 'c', 'd']), loaded);
  assert.equal(resolveAll(f, []).length, 4, 'resolving alone (status, jobs, schedule) does not refuse them');
});
