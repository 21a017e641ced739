// The whole operations story with a config, under systemd as PID 1:
// `kopiatomic --config F schedule install`, systemd-analyze verify, runs by
// `systemctl start kopiatomic@JOB.service`, pings received by an HTTP server
// on the guest's loopback, the metrics file checked by promtool, `status` exit
// codes, `systemctl stop` of a long backup, the journal, `schedule remove`.
// Asserts on what systemd, ZFS, restic, promtool and the HTTP server see.
//
// The config keys below follow the documented schema.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse } from '../../src/ops/metrics.js';
import { CLEAN, KOPIATOMIC, leftovers, Pool, restic, resticRepo, scratchDir, script } from '../e2e/lib.js';
import { cgroupProcs, cmd, journal, rmAll, unitProps, until } from './systemd-lib.js';

const UNIT_DIR = '/etc/systemd/system';

describe('scheduled jobs from a config', () => {
  let pool: Pool;
  let dir: string;
  let config: string;
  let server: Server;
  let port = 0;
  let deadPort = 0;
  const hits: { method: string; url: string; body: string }[] = [];
  let goodEnv: NodeJS.ProcessEnv;
  const metrics = () => `${dir}/textfile/kopiatomic.prom`;
  const status = () => `${dir}/status.json`;
  const kt = (...args: string[]) => cmd(process.execPath, KOPIATOMIC, '--config', config, ...args);

  before(async () => {
    pool = Pool.create(['home', 'home/alice', 'srv']);
    writeFileSync(pool.path('home/alice/notes.txt'), 'scheduled\n');
    dir = scratchDir('schedule');
    goodEnv = resticRepo();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString('utf8')));
      req.on('end', () => {
        hits.push({ method: req.method!, url: req.url!, body });
        res.writeHead(200).end('OK');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));

    mkdirSync('/etc/kopiatomic', { recursive: true });
    const envText = (e: NodeJS.ProcessEnv) => Object.entries(e).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    for (const job of ['home', 'dead', 'slow']) writeFileSync(`/etc/kopiatomic/${job}.env`, envText(goodEnv), { mode: 0o600 });
    // A repository that does not exist: restic fails.
    writeFileSync(`/etc/kopiatomic/bad.env`, envText({ ...goodEnv, RESTIC_REPOSITORY: `${dir}/no-such-repo` }), { mode: 0o600 });
    const slow = script(dir, 'slow-engine', `echo $$ > ${dir}/started\nexec sleep 600`);
    config = `${dir}/kopiatomic.toml`;
    writeFileSync(
      config,
      `[defaults]
metrics_file = "${metrics()}"
status_file = "${status()}"
max_age = "26h"
schedule = "daily"

[jobs.home]
engine = "restic"
datasets = ["${pool.ds('home')}"]
recursive = true
mount_root = "/kt-sched-home"
ping_url = "http://127.0.0.1:${port}/ping/home-uuid"
schedule = "*-*-* 02:30"

[jobs.bad]
engine = "restic"
datasets = ["${pool.ds('srv')}"]
mount_root = "/kt-sched-bad"
ping_url = "http://127.0.0.1:${port}/ping/bad-uuid"

[jobs.dead]
engine = "restic"
datasets = ["${pool.ds('srv')}"]
mount_root = "/kt-sched-dead"
ping_url = "http://127.0.0.1:${deadPort}/ping/dead-secret"

[jobs.slow]
engine = "command"
command = "${slow}"
datasets = ["${pool.ds('home')}"]
recursive = true
mount_root = "/kt-sched-slow"
`,
      // ping_url is a secret: the loader refuses a file others can read.
      { mode: 0o600 },
    );
  });

  after(async () => {
    for (const j of ['home', 'bad', 'dead', 'slow']) await cmd('systemctl', 'stop', `kopiatomic@${j}.service`);
    await kt('schedule', 'remove');
    rmAll('/etc/kopiatomic');
    server.close();
    pool.destroy();
  });

  test('schedule install: units verified, timers enabled and listed', async () => {
    const r = await kt('schedule', 'install');
    assert.equal(r.code, 0, r.stderr);
    const v = await cmd('systemd-analyze', 'verify', `${UNIT_DIR}/kopiatomic@.service`, ...['home', 'bad', 'dead', 'slow'].map((j) => `${UNIT_DIR}/kopiatomic-${j}.timer`));
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stderr.split('\n').filter((l) => /kopiatomic/.test(l)).join('\n'), '');
    const timers = (await cmd('systemctl', 'list-timers', '--all', '--no-pager')).stdout;
    for (const j of ['home', 'bad', 'dead', 'slow']) assert.match(timers, new RegExp(`kopiatomic-${j}\\.timer\\s+kopiatomic@${j}\\.service`));
    assert.match((await unitProps('kopiatomic-home.timer', 'TimersCalendar'))['TimersCalendar']!, /02:30:00/);
    assert.match(readFileSync(`${UNIT_DIR}/kopiatomic@.service`, 'utf8'), new RegExp(`ExecStart=${process.execPath} \\S+kopiatomic\\.js --config ${config} run --wait %I`));
  });

  test('a good run: backed up, nothing left, pings start then success, metrics valid, journal has the log', async () => {
    hits.length = 0;
    const r = await cmd('systemctl', 'start', 'kopiatomic@home.service');
    assert.equal(r.code, 0, await journal('kopiatomic@home.service'));
    assert.equal((await unitProps('kopiatomic@home.service', 'ExecMainStatus'))['ExecMainStatus'], '0');
    const snaps = JSON.parse(restic(goodEnv, 'snapshots', '--json')) as { short_id: string }[];
    assert.equal(snaps.length, 1);
    assert.match(restic(goodEnv, 'ls', 'latest'), /alice\/notes\.txt/);
    assert.deepEqual(leftovers([pool], '/kt-sched-home'), CLEAN);
    assert.deepEqual(hits.map((h) => `${h.method} ${h.url}`), ['POST /ping/home-uuid/start', 'POST /ping/home-uuid']);
    assert.match(await journal('kopiatomic@home.service'), new RegExp(`snapshot ${snaps[0]!.short_id} saved`));
    const check = spawnSync('promtool', ['check', 'metrics'], { input: readFileSync(metrics()), encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal((await kt('status', 'home')).code, 0);
  });

  test('a failing engine: pings start then the exit code; metrics of both jobs coexist; status is CRITICAL', async () => {
    hits.length = 0;
    const r = await cmd('systemctl', 'start', 'kopiatomic@bad.service');
    assert.notEqual(r.code, 0);
    const code = (await unitProps('kopiatomic@bad.service', 'ExecMainStatus'))['ExecMainStatus'];
    assert.equal(code, '1');
    assert.deepEqual(hits.map((h) => h.url), ['/ping/bad-uuid/start', `/ping/bad-uuid/${code}`]);
    assert.match(hits[1]!.body, /./, 'the log tail is the body');
    assert.deepEqual(leftovers([pool], '/kt-sched-bad'), CLEAN);
    const text = readFileSync(metrics(), 'utf8');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const exit = (job: string) => parse(text).find((s) => s.name === 'kopiatomic_last_run_exit_code' && s.labels['job'] === job)?.value;
    assert.equal(exit('home'), 0);
    assert.equal(exit('bad'), 1);
    assert.equal((await kt('status')).code, 2);
    assert.equal((await kt('status', 'slow')).code, 3, 'never ran');
  });

  test('a dead ping server only warns: the run succeeds and the URL is not in the log', async () => {
    const r = await cmd('systemctl', 'start', 'kopiatomic@dead.service');
    assert.equal(r.code, 0);
    assert.equal((await unitProps('kopiatomic@dead.service', 'ExecMainStatus'))['ExecMainStatus'], '0');
    const log = await journal('kopiatomic@dead.service');
    assert.match(log, /ping \(start\) for job dead failed/);
    assert.doesNotMatch(log, /dead-secret/);
  });

  test('systemctl stop during a long backup stops it and cleanup leaves nothing', async () => {
    await cmd('systemctl', 'start', '--no-block', 'kopiatomic@slow.service');
    await until('the slow engine to start', () => existsSync(`${dir}/started`));
    assert.notDeepEqual(leftovers([pool], '/kt-sched-slow').snapshots, []);
    const stop = await cmd('systemctl', 'stop', 'kopiatomic@slow.service');
    assert.equal(stop.code, 0);
    assert.deepEqual(leftovers([pool], '/kt-sched-slow'), CLEAN);
    assert.deepEqual(cgroupProcs('kopiatomic@slow.service'), []);
    assert.equal((await unitProps('kopiatomic@slow.service', 'ExecMainStatus'))['ExecMainStatus'], '143');
  });

  test('schedule remove takes away what install made', async () => {
    const r = await kt('schedule', 'remove');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(UNIT_DIR).filter((f) => f.startsWith('kopiatomic')), []);
    assert.equal((await cmd('systemctl', 'list-timers', '--all', '--no-pager')).stdout.includes('kopiatomic'), false);
  });
});
