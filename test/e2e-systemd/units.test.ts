// The generated systemd units under a real systemd (PID 1), with the flag form
// of the command line: `schedule install` (the library entry point, with the
// real systemctl), systemd-analyze verify, a backup run by
// `systemctl start kopiatomic@home.service` with the unit's hardening, the
// timer in list-timers, `systemctl stop` during a long backup, the journal,
// and `schedule remove`. Asserts on what systemd, ZFS and restic show.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { scheduleAction as scheduleCommand } from '../../src/cli/schedule.js';
import { SystemRunner } from '../../src/core/exec.js';
import { Reporter } from '../../src/core/report.js';
import { CLEAN, KOPIATOMIC, leftovers, Pool, restic, resticRepo, RESTOMIC, scratchDir, script } from '../e2e/lib.js';
import { cgroupProcs, cmd, journal, rmAll, unitProps, until } from './systemd-lib.js';

const UNIT_DIR = '/etc/systemd/system';
const SERVICE = 'kopiatomic@home.service';
const DROPIN = `${UNIT_DIR}/${SERVICE}.d`;
const ENV_FILE = '/etc/kopiatomic/home.env';
const ROOT = '/kt-systemd';
let pool: Pool;
let env: NodeJS.ProcessEnv;
let dir: string;

const out: string[] = [];
const ctx = () => {
  const reporter = new Reporter({ json: false, verbosity: 1, name: 'test', out: (l) => out.push(l), err: (l) => out.push(l) });
  return {
    configPath: '/etc/kopiatomic-e2e/kopiatomic.toml',
    script: KOPIATOMIC,
    jobs: [{ name: 'home', schedule: '*-*-* 03:30' }],
    runner: new SystemRunner(reporter, false),
    out: (l: string) => out.push(l),
    err: (l: string) => out.push(l),
  };
};

/** The flag form in place of `--config ... run`, through a drop-in; the unit's hardening stays. */
async function useCommand(argv: string[]): Promise<void> {
  mkdirSync(DROPIN, { recursive: true });
  writeFileSync(`${DROPIN}/e2e.conf`, `[Service]\nExecStart=\nExecStart=${argv.join(' ')}\n`);
  await cmd('systemctl', 'daemon-reload');
}

before(() => {
  pool = Pool.create(['home', 'home/alice']);
  writeFileSync(pool.path('home/alice/notes.txt'), 'hello from systemd\n');
  env = resticRepo();
  dir = scratchDir('systemd');
  mkdirSync('/etc/kopiatomic', { recursive: true });
  writeFileSync(ENV_FILE, Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
});

after(async () => {
  await cmd('systemctl', 'stop', SERVICE);
  await scheduleCommand(['remove'], ctx());
  rmAll(DROPIN, ENV_FILE);
  await cmd('systemctl', 'daemon-reload');
  pool.destroy();
});

test('schedule install: template and timer in /etc/systemd/system, verified, enabled, listed', async () => {
  assert.equal(await scheduleCommand(['install', 'home'], ctx()), 0, out.join('\n'));
  const files = readdirSync(UNIT_DIR).filter((f) => f.startsWith('kopiatomic'));
  assert.deepEqual(files.sort(), ['kopiatomic-home.timer', 'kopiatomic@.service']);
  const v = await cmd('systemd-analyze', 'verify', `${UNIT_DIR}/kopiatomic-home.timer`, `${UNIT_DIR}/kopiatomic@.service`);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stderr.split('\n').filter((l) => /kopiatomic/.test(l)).join('\n'), '', 'no complaint about our units');
  assert.equal((await cmd('systemctl', 'is-enabled', 'kopiatomic-home.timer')).stdout.trim(), 'enabled');
  assert.equal((await cmd('systemctl', 'is-active', 'kopiatomic-home.timer')).stdout.trim(), 'active');
  const timers = (await cmd('systemctl', 'list-timers', '--all', '--no-pager')).stdout;
  assert.match(timers, /kopiatomic-home\.timer\s+kopiatomic@home\.service/);
  const props = await unitProps('kopiatomic-home.timer', 'TimersCalendar', 'Persistent', 'RandomizedDelayUSec');
  assert.match(props['TimersCalendar']!, /OnCalendar=\*-\*-\* 03:30:00/);
  assert.equal(props['Persistent'], 'yes');
});

test('systemctl start kopiatomic@home.service backs up under the hardening and leaves nothing', async () => {
  await useCommand([process.execPath, RESTOMIC, '--wait', '--mount-root', ROOT, '-r', pool.ds('home')]);
  const r = await cmd('systemctl', 'start', SERVICE);
  const props = await unitProps(SERVICE, 'Result', 'ExecMainStatus', 'CapabilityBoundingSet', 'DevicePolicy', 'RestrictNamespaces');
  assert.equal(r.code, 0, `${r.stderr}\n${await journal(SERVICE)}`);
  assert.equal(props['Result'], 'success');
  assert.equal(props['ExecMainStatus'], '0');
  // The hardening was in force (systemd's view of the unit).
  assert.doesNotMatch(props['CapabilityBoundingSet']!, /cap_sys_module|cap_net_admin/);
  assert.match(props['CapabilityBoundingSet']!, /cap_sys_admin/);
  assert.equal(props['DevicePolicy'], 'closed');
  // The repository has the snapshot, with the file, under the mount root path.
  const snaps = JSON.parse(restic(env, 'snapshots', '--json')) as { short_id: string; paths: string[] }[];
  assert.equal(snaps.length, 1);
  assert.deepEqual(snaps[0]!.paths, [ROOT]);
  assert.match(restic(env, 'ls', 'latest'), /alice\/notes\.txt/);
  assert.deepEqual(leftovers([pool], ROOT), CLEAN);
  // The journal holds the run's log: restic's own line naming the snapshot.
  assert.match(await journal(SERVICE), new RegExp(`snapshot ${snaps[0]!.short_id} saved`));
});

test('the paths layout (a private mount namespace) works under RestrictNamespaces=mnt', async () => {
  await useCommand([process.execPath, RESTOMIC, '--wait', '--mount-root', ROOT, '--layout', 'paths', '-r', pool.ds('home')]);
  const r = await cmd('systemctl', 'start', SERVICE);
  assert.equal(r.code, 0, `${r.stderr}\n${await journal(SERVICE)}`);
  const snaps = JSON.parse(restic(env, 'snapshots', '--json')) as { paths: string[] }[];
  assert.deepEqual(snaps.at(-1)!.paths, [pool.path('home')]);
  assert.deepEqual(leftovers([pool], ROOT), CLEAN);
});

test('systemctl stop during a long backup stops it, and cleanup leaves nothing', async () => {
  const started = `${dir}/started`;
  const slow = script(dir, 'slow-engine', `echo $$ > ${started}\nexec sleep 600`);
  await useCommand([process.execPath, RESTOMIC, '--wait', '--mount-root', ROOT, '--engine', 'command', '-c', slow, '-r', pool.ds('home')]);
  await cmd('systemctl', 'start', '--no-block', SERVICE);
  await until('the slow engine to start', async () => (await cmd('test', '-s', started)).code === 0);
  // Mid-backup: our snapshots and mounts exist.
  assert.notDeepEqual(leftovers([pool], ROOT).snapshots, []);
  const t0 = Date.now();
  const stop = await cmd('systemctl', 'stop', SERVICE);
  assert.equal(stop.code, 0, stop.stderr);
  assert.ok(Date.now() - t0 < 60_000, 'stopped well before the stop timeout');
  assert.deepEqual(leftovers([pool], ROOT), CLEAN);
  assert.deepEqual(cgroupProcs(SERVICE), [], 'no process of the unit is left');
  assert.equal((await cmd('pgrep', '-f', 'sleep 600')).code, 1, 'the engine is gone');
  const props = await unitProps(SERVICE, 'ActiveState', 'ExecMainStatus');
  assert.ok(['inactive', 'failed'].includes(props['ActiveState']!), props['ActiveState']);
  // 143: kopiatomic's exit code for SIGTERM, after its cleanup.
  assert.equal(props['ExecMainStatus'], '143');
});

test('schedule remove takes away exactly what install made', async () => {
  rmAll(DROPIN);
  assert.equal(await scheduleCommand(['remove', 'home'], ctx()), 0, out.join('\n'));
  assert.deepEqual(readdirSync(UNIT_DIR).filter((f) => f.startsWith('kopiatomic')), []);
  assert.equal((await cmd('systemctl', 'list-timers', '--all', '--no-pager')).stdout.includes('kopiatomic'), false);
  assert.equal(readdirSync(`${UNIT_DIR}/timers.target.wants`).some((f) => f.startsWith('kopiatomic')), false);
});
