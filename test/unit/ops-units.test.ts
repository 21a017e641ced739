// Generated schedules: systemd units, the FreeBSD periodic script, cron lines,
// and what `schedule install/remove` write and run (with a fake runner).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { scheduleAction as scheduleCommand, type ScheduleContext } from '../../src/cli/schedule.js';
import { cronFields, cronLine } from '../../src/ops/units/cron.js';
import { periodicScript } from '../../src/ops/units/periodic.js';
import { escapeInstance, execWord, runArgv, serviceUnit, timerUnit } from '../../src/ops/units/systemd.js';
import { FakeRunner } from './helpers.js';

const NODE = '/usr/bin/node';
const SCRIPT = '/usr/lib/node_modules/kopiatomic/dist/src/bin/kopiatomic.js';
const CONFIG = '/etc/kopiatomic.toml';

function directives(unit: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) (out[m[1]!] ??= []).push(m[2]!);
  }
  return out;
}

test('the service template: oneshot, run --wait of the instance, what ZFS needs kept', () => {
  const d = directives(serviceUnit({ argv: runArgv(NODE, SCRIPT, CONFIG) }));
  assert.deepEqual(d['ExecStart'], [`${NODE} ${SCRIPT} --config ${CONFIG} run --wait %I`]);
  assert.deepEqual(d['Type'], ['oneshot']);
  assert.deepEqual(d['KillMode'], ['mixed']);
  assert.ok(d['CapabilityBoundingSet']![0]!.split(' ').includes('CAP_SYS_ADMIN'));
  assert.deepEqual(d['DeviceAllow'], ['/dev/zfs rw']);
  assert.deepEqual(d['RestrictNamespaces'], ['mnt']);
  // The options that break ZFS backups (FACTS: systemd hardening vs ZFS) are not on.
  for (const off of ['PrivateDevices', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'MemoryDenyWriteExecute', 'SystemCallFilter', 'PrivateMounts']) {
    assert.equal(d[off], undefined, off);
  }
});

test('ExecStart words: spaces quoted, % and $ not expanded by systemd', () => {
  assert.equal(execWord('/opt/my apps/node'), '"/opt/my apps/node"');
  assert.equal(execWord('/etc/100%.toml'), '/etc/100%%.toml');
  assert.equal(execWord('/etc/$x.toml'), '"/etc/$$x.toml"');
  assert.equal(escapeInstance('home-data'), 'home\\x2ddata');
  assert.equal(escapeInstance('home.d_1'), 'home.d_1');
});

test('the timer: OnCalendar from the job, Persistent, RandomizedDelaySec, the instance', () => {
  const d = directives(timerUnit({ job: 'home', schedule: '*-*-* 02:30' }));
  assert.deepEqual(d['OnCalendar'], ['*-*-* 02:30']);
  assert.deepEqual(d['Persistent'], ['true']);
  assert.deepEqual(d['RandomizedDelaySec'], ['15min']);
  assert.deepEqual(d['Unit'], ['kopiatomic@home.service']);
  assert.deepEqual(d['WantedBy'], ['timers.target']);
});

test('systemd-analyze verify accepts the units', { skip: spawnSync('systemd-analyze', ['--version']).status !== 0 && 'systemd-analyze is not installed here (the systemd guest checks it)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-units-'));
  writeFileSync(join(dir, 'kopiatomic@.service'), serviceUnit({ argv: runArgv(process.execPath, SCRIPT, CONFIG) }));
  writeFileSync(join(dir, 'kopiatomic-home.timer'), timerUnit({ job: 'home', schedule: 'daily' }));
  const r = spawnSync('systemd-analyze', ['verify', join(dir, 'kopiatomic-home.timer'), join(dir, 'kopiatomic@.service')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('the periodic script: valid sh, knobs of periodic.conf, PATH with /usr/local, exit 3 on failure', () => {
  const text = periodicScript({ node: '/usr/local/bin/node', script: SCRIPT, config: '/usr/local/etc/kopiatomic.toml', jobs: ['home', 'srv'] });
  const dir = mkdtempSync(join(tmpdir(), 'kt-periodic-'));
  const file = join(dir, '900.kopiatomic');
  writeFileSync(file, text);
  const r = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(text, /^#!\/bin\/sh\n/);
  assert.match(text, /: \$\{daily_kopiatomic_enable:="NO"\}/);
  assert.match(text, /: \$\{daily_kopiatomic_jobs:='home srv'\}/);
  assert.match(text, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:/m);
  assert.match(text, /'\/usr\/local\/bin\/node' '\/usr\/lib\/node_modules\/kopiatomic\/dist\/src\/bin\/kopiatomic.js' '--config' "\$daily_kopiatomic_config" 'run' '--wait' "\$job"/);

  // Run it with a stand-in node that records its arguments and fails for srv:
  // proves the loop, the enable switch and the exit code.
  const fakeNode = join(dir, 'node');
  writeFileSync(fakeNode, `#!/bin/sh\necho "$@" >> ${dir}/calls\n[ "$6" != srv ]\n`, { mode: 0o755 });
  const script = periodicScript({ node: fakeNode, script: '/x.js', config: '/c.toml', jobs: ['home', 'srv'] });
  writeFileSync(file, script);
  const off = spawnSync('sh', [file], { encoding: 'utf8' });
  assert.equal(off.status, 0);
  assert.equal(existsSync(join(dir, 'calls')), false, 'not enabled: nothing runs');
  const on = spawnSync('sh', [file], { encoding: 'utf8', env: { ...process.env, daily_kopiatomic_enable: 'YES' } });
  assert.equal(on.status, 3);
  assert.match(on.stdout, /job srv FAILED/);
  assert.equal(readFileSync(join(dir, 'calls'), 'utf8'), '/x.js --config /c.toml run --wait home\n/x.js --config /c.toml run --wait srv\n');
});

test('cron lines: fields from the schedule, PATH set, absolute node; impossible schedules refused', () => {
  assert.equal(cronFields('daily'), '0 0 * * *');
  assert.equal(cronFields('*-*-* 02:30'), '30 2 * * *');
  assert.equal(cronFields('04:05'), '5 4 * * *');
  assert.equal(cronFields('Mon *-*-* 02:30'), '30 2 * * 1');
  assert.equal(cronFields('Mon *-*-01 02:30'), null, 'cron would run on every Monday and every 1st');
  const line = cronLine({ job: 'home', schedule: '*-*-* 02:30', node: NODE, script: SCRIPT, config: CONFIG });
  assert.equal(line, `30 2 * * * root env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${NODE} ${SCRIPT} --config ${CONFIG} run --wait home`);
  assert.throws(() => cronLine({ job: 'home', schedule: 'Mon..Fri 02:00:30', node: NODE, script: SCRIPT, config: CONFIG }), /no cron equivalent/);
  // The line itself runs under sh as cron would run it (with a stand-in node).
  const dir = mkdtempSync(join(tmpdir(), 'kt-cron-'));
  writeFileSync(join(dir, 'node'), `#!/bin/sh\necho "$PATH|$@"\n`, { mode: 0o755 });
  const l = cronLine({ job: 'home', schedule: 'daily', node: join(dir, 'node'), script: '/s.js', config: '/c.toml' });
  const cmd = l.split(' ').slice(6).join(' ');
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  assert.equal(r.stdout, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/s.js --config /c.toml run --wait home\n');
});

function ctx(unitDir: string, over: Partial<ScheduleContext> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const runner = new FakeRunner(() => ({ code: 0, stdout: '', stderr: '' }));
  const c: ScheduleContext = {
    configPath: CONFIG,
    jobs: [
      { name: 'home', schedule: 'daily' },
      { name: 'srv', schedule: '*-*-* 03:00' },
    ],
    runner,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    platform: 'linux',
    node: NODE,
    script: SCRIPT,
    unitDir,
    systemd: true,
    periodicCheckPath: join(unitDir, '900.kopiatomic-check'),
    ...over,
  };
  return { c, out, err, runner };
}

test('schedule install writes the template and the timer, reloads, enables; remove undoes exactly that', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-'));
  writeFileSync(join(dir, 'other.service'), '[Service]\nExecStart=/bin/true\n');
  const a = ctx(dir);
  assert.equal(await scheduleCommand(['install', 'home'], a.c), 0);
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-home.timer', 'kopiatomic@.service', 'other.service']);
  assert.equal(statSync(join(dir, 'kopiatomic@.service')).mode & 0o777, 0o644);
  assert.deepEqual(a.runner.calls.map((c) => c.argv.join(' ')), ['systemd-analyze calendar daily', 'systemctl daemon-reload', 'systemctl enable --now kopiatomic-home.timer']);

  const b = ctx(dir);
  assert.equal(await scheduleCommand(['install'], b.c), 0);
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-home.timer', 'kopiatomic-srv.timer', 'kopiatomic@.service', 'other.service']);

  // Removing one job keeps the template for the other.
  const r1 = ctx(dir);
  assert.equal(await scheduleCommand(['remove', 'home'], r1.c), 0);
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-srv.timer', 'kopiatomic@.service', 'other.service']);
  assert.deepEqual(r1.runner.calls.map((c) => c.argv.join(' ')), ['systemctl disable --now kopiatomic-home.timer', 'systemctl daemon-reload']);
  // Removing everything takes the template too, and nothing that is not ours.
  const r2 = ctx(dir);
  assert.equal(await scheduleCommand(['remove'], r2.c), 0);
  assert.deepEqual(readdirSync(dir), ['other.service']);
});

test('schedule refuses: a unit that is not ours, a bad calendar, no systemd, unknown job, --cron install', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-'));
  writeFileSync(join(dir, 'kopiatomic@.service'), '[Service]\nExecStart=/bin/true\n');
  const a = ctx(dir);
  assert.equal(await scheduleCommand(['install', 'home'], a.c), 4);
  assert.match(a.err.join('\n'), /not made by kopiatomic/);
  assert.equal(readFileSync(join(dir, 'kopiatomic@.service'), 'utf8'), '[Service]\nExecStart=/bin/true\n');

  const dir2 = mkdtempSync(join(tmpdir(), 'kt-sched-'));
  const bad = ctx(dir2, { runner: new FakeRunner((argv) => ({ code: argv[1] === 'calendar' ? 1 : 0, stdout: '', stderr: '' })) });
  assert.equal(await scheduleCommand(['install', 'home'], bad.c), 2);
  assert.deepEqual(readdirSync(dir2), []);
  assert.equal(await scheduleCommand(['install'], ctx(dir2, { systemd: false }).c), 2);
  assert.equal(await scheduleCommand(['install', 'nope'], ctx(dir2).c), 2);
  assert.equal(await scheduleCommand(['install', '--cron'], ctx(dir2).c), 2);
  assert.equal(await scheduleCommand(['frobnicate'], ctx(dir2).c), 2);
  assert.deepEqual(readdirSync(dir2), []);
});

test('schedule show prints the units; --cron the cron lines; FreeBSD installs the periodic script', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-'));
  const s = ctx(dir);
  assert.equal(await scheduleCommand(['show', 'srv'], s.c), 0);
  assert.match(s.out.join('\n'), /OnCalendar=\*-\*-\* 03:00/);
  assert.deepEqual(readdirSync(dir), []);
  const c = ctx(dir);
  assert.equal(await scheduleCommand(['show', '--cron'], c.c), 0);
  assert.match(c.out.join('\n'), /^0 0 \* \* \* root env PATH=.* run --wait home$/m);
  assert.match(c.out.join('\n'), /^0 3 \* \* \* root env PATH=.* run --wait srv$/m);

  const periodicPath = join(dir, '900.kopiatomic');
  const f = ctx(dir, { platform: 'freebsd', periodicPath });
  assert.equal(await scheduleCommand(['install'], f.c), 0);
  assert.equal(statSync(periodicPath).mode & 0o777, 0o755);
  assert.equal(spawnSync('sh', ['-n', periodicPath]).status, 0);
  assert.match(f.err.join('\n'), /job srv has schedule "\*-\*-\* 03:00"; periodic runs it daily/);
  assert.equal(await scheduleCommand(['remove'], ctx(dir, { platform: 'freebsd', periodicPath }).c), 0);
  assert.equal(existsSync(periodicPath), false);
});

test('two configs: each has its own units naming it; B\'s install never re-points A\'s, B\'s remove leaves A\'s; show lists both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-'));
  const B = '/etc/kopiatomic/b.toml';
  const a = ctx(dir);
  assert.equal(await scheduleCommand(['install'], a.c), 0);
  const aFiles = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  const b = ctx(dir, { configPath: B, jobs: [{ name: 'home', schedule: 'weekly' }] });
  assert.equal(await scheduleCommand(['install'], b.c), 0, b.err.join('\n'));
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-home.timer', 'kopiatomic-srv.timer', 'kopiatomic.b-home.timer', 'kopiatomic.b@.service', 'kopiatomic@.service']);
  for (const [f, text] of Object.entries(aFiles)) assert.equal(readFileSync(join(dir, f), 'utf8'), text, `${f} untouched`);
  const bService = readFileSync(join(dir, 'kopiatomic.b@.service'), 'utf8');
  assert.match(bService, new RegExp(`^ExecStart=.* --config ${B} run --wait %I$`, 'm'));
  assert.match(readFileSync(join(dir, 'kopiatomic.b-home.timer'), 'utf8'), /^Unit=kopiatomic\.b@home\.service$/m);
  assert.match(readFileSync(join(dir, 'kopiatomic@.service'), 'utf8'), new RegExp(`--config ${CONFIG} run`));

  const show = ctx(dir, { configPath: B });
  assert.equal(await scheduleCommand(['show'], show.c), 0);
  assert.match(show.out.join('\n'), new RegExp(`#   ${CONFIG}: kopiatomic-home.timer kopiatomic-srv.timer`));
  assert.match(show.out.join('\n'), new RegExp(`#   ${B} \\(this config\\): kopiatomic.b-home.timer`));

  // A unit of B's name that another config wrote is never re-pointed.
  const c = ctx(dir, { configPath: '/srv/other/b.toml', jobs: [{ name: 'home', schedule: 'daily' }] });
  assert.equal(await scheduleCommand(['install'], c.c), 4);
  assert.match(c.err.join('\n'), /belongs to the config \/etc\/kopiatomic\/b\.toml; not re-pointing it/);
  assert.equal(readFileSync(join(dir, 'kopiatomic.b@.service'), 'utf8'), bService);

  const rb = ctx(dir, { configPath: B, jobs: [] });
  assert.equal(await scheduleCommand(['remove'], rb.c), 0);
  assert.deepEqual(rb.runner.calls.map((x) => x.argv.join(' ')), ['systemctl disable --now kopiatomic.b-home.timer', 'systemctl daemon-reload']);
  assert.deepEqual(readdirSync(dir).sort(), Object.keys(aFiles).sort());
  for (const [f, text] of Object.entries(aFiles)) assert.equal(readFileSync(join(dir, f), 'utf8'), text, `${f} untouched`);
  // B's remove with a job name that only A has: nothing of A's goes.
  const rb2 = ctx(dir, { configPath: B, jobs: [] });
  assert.equal(await scheduleCommand(['remove', 'srv'], rb2.c), 0);
  assert.deepEqual(readdirSync(dir).sort(), Object.keys(aFiles).sort());
});

test('units of an older version (one template, no config line) belong to the config their ExecStart runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-'));
  writeFileSync(join(dir, 'kopiatomic@.service'), serviceUnit({ argv: runArgv(NODE, SCRIPT, CONFIG) }));
  writeFileSync(join(dir, 'kopiatomic-home.timer'), timerUnit({ job: 'home', schedule: 'daily' }));
  // Another config of the same file name: the same unit names, but they run CONFIG.
  const other = '/srv/kopiatomic.toml';
  const b = ctx(dir, { configPath: other, jobs: [{ name: 'home', schedule: 'daily' }] });
  assert.equal(await scheduleCommand(['install'], b.c), 4, 'not re-pointed');
  assert.match(b.err.join('\n'), new RegExp(`belongs to the config ${CONFIG}`));
  assert.equal(await scheduleCommand(['remove'], ctx(dir, { configPath: other }).c), 0);
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-home.timer', 'kopiatomic@.service']);
  assert.equal(await scheduleCommand(['remove'], ctx(dir).c), 0);
  assert.deepEqual(readdirSync(dir), []);
});

test('check_schedule: its own template and timer (PREFIX-check@JOB.timer), cron line; remove takes them with the job', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-check-'));
  const jobs = [
    { name: 'home', schedule: 'daily', checkSchedule: 'Sun 04:00' },
    { name: 'my-srv', schedule: 'daily', checkSchedule: null },
  ];
  const a = ctx(dir, { jobs });
  assert.equal(await scheduleCommand(['install'], a.c), 0);
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-check@.service', 'kopiatomic-check@home.timer', 'kopiatomic-home.timer', 'kopiatomic-my-srv.timer', 'kopiatomic@.service']);
  const service = directives(readFileSync(join(dir, 'kopiatomic-check@.service'), 'utf8'));
  assert.deepEqual(service['ExecStart'], [`${NODE} ${SCRIPT} --config ${CONFIG} check %I`]);
  const timer = directives(readFileSync(join(dir, 'kopiatomic-check@home.timer'), 'utf8'));
  assert.deepEqual([timer['OnCalendar'], timer['Unit']], [['Sun 04:00'], ['kopiatomic-check@home.service']]);
  assert.deepEqual(a.runner.calls.map((c) => c.argv.join(' ')).slice(-1), ['systemctl enable --now kopiatomic-home.timer kopiatomic-my-srv.timer kopiatomic-check@home.timer']);
  assert.ok(a.runner.calls.some((c) => c.argv.join(' ') === 'systemd-analyze calendar Sun 04:00'));
  // cron: the check's own line
  const cron = ctx(dir, { jobs });
  assert.equal(await scheduleCommand(['show', '--cron'], cron.c), 0);
  assert.ok(cron.out.some((l) => /^0 4 \* \* 7 root .* --config \/etc\/kopiatomic\.toml check home$/.test(l)), cron.out.join('\n'));
  // remove home: its backup and check timers, and the check template with its last timer
  const r = ctx(dir, { jobs });
  assert.equal(await scheduleCommand(['remove', 'home'], r.c), 0);
  assert.deepEqual(readdirSync(dir).sort(), ['kopiatomic-my-srv.timer', 'kopiatomic@.service']);
});

test('FreeBSD: the checks of jobs with check_schedule get a weekly periodic script of their own, run for real; remove takes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-sched-periodic-check-'));
  const jobs = [
    { name: 'home', schedule: 'daily', checkSchedule: 'weekly' },
    { name: 'srv', schedule: 'daily', checkSchedule: 'Sun 04:00' },
    { name: 'tmp', schedule: 'daily', checkSchedule: null },
  ];
  const periodicPath = join(dir, '900.kopiatomic');
  const periodicCheckPath = join(dir, '900.kopiatomic-check');
  const fakeNode = join(dir, 'node');
  writeFileSync(fakeNode, `#!/bin/sh\necho "$@" >> ${dir}/calls\n[ "$5" != srv ]\n`, { mode: 0o755 });
  const f = ctx(dir, { platform: 'freebsd', jobs, periodicPath, periodicCheckPath, node: fakeNode, script: '/x.js' });
  assert.equal(await scheduleCommand(['install'], f.c), 0, f.err.join('\n'));
  assert.equal(statSync(periodicCheckPath).mode & 0o777, 0o755);
  const text = readFileSync(periodicCheckPath, 'utf8');
  assert.match(text, /: \$\{weekly_kopiatomic_check_jobs:='home srv'\}/);
  assert.match(f.err.join('\n'), /job srv has check_schedule "Sun 04:00"; periodic checks it weekly/);
  assert.doesNotMatch(f.err.join('\n'), /job home has check_schedule/);
  // Run as periodic would: nothing unless enabled; then each job checked, a failure is exit 3.
  assert.equal(spawnSync('sh', [periodicCheckPath], { encoding: 'utf8' }).status, 0);
  assert.equal(existsSync(join(dir, 'calls')), false);
  const on = spawnSync('sh', [periodicCheckPath], { encoding: 'utf8', env: { ...process.env, weekly_kopiatomic_check_enable: 'YES' } });
  assert.equal(on.status, 3);
  assert.equal(readFileSync(join(dir, 'calls'), 'utf8'), '/x.js --config /etc/kopiatomic.toml check home\n/x.js --config /etc/kopiatomic.toml check srv\n');
  // Without checks, install makes no weekly script; remove takes both.
  const none = ctx(dir, { platform: 'freebsd', jobs: [{ name: 'tmp', schedule: 'daily', checkSchedule: null }], periodicPath, periodicCheckPath: join(dir, 'other-check') });
  assert.equal(await scheduleCommand(['install'], none.c), 0);
  assert.equal(existsSync(join(dir, 'other-check')), false);
  assert.equal(await scheduleCommand(['remove'], ctx(dir, { platform: 'freebsd', jobs, periodicPath, periodicCheckPath }).c), 0);
  assert.equal(existsSync(periodicPath), false);
  assert.equal(existsSync(periodicCheckPath), false);
});
