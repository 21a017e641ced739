// Two configs on one host, each with a job of the same name, each with its
// own schedule: under a real systemd, B's install never re-points A's units
// and B's remove leaves A's timers and units intact and running A. Asserted on
// what systemd shows (list-timers, systemctl cat, is-enabled) and the unit
// files on disk, and by starting A's job: it runs A's config.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { KOPIATOMIC, Pool, scratchDir, script } from '../e2e/lib.js';
import { cmd, journal, unitProps } from './systemd-lib.js';

const UNIT_DIR = '/etc/systemd/system';
let pool: Pool;
let dir: string;
let A: string;
let B: string;
const kt = (config: string, ...args: string[]) => cmd(process.execPath, KOPIATOMIC, '--config', config, ...args);
const ourUnits = () => Object.fromEntries(readdirSync(UNIT_DIR).filter((f) => f.startsWith('kopiatomic')).map((f) => [f, readFileSync(`${UNIT_DIR}/${f}`, 'utf8')]));

before(() => {
  pool = Pool.create(['a', 'b']);
  dir = scratchDir('two-configs');
  const config = (name: string, ds: string, schedule: string) => {
    // The engine leaves a mark naming the config that ran it.
    const engine = script(dir, `engine-${name}`, `touch ${dir}/ran-${name}`);
    const path = `${dir}/${name}.toml`;
    writeFileSync(path, `status_file = "${dir}/status-${name}.json"\n[jobs.home]\nengine = "command"\ncommand = "${engine}"\ndatasets = ["${ds}"]\nmount_root = "/kt-two-${name}"\nschedule = "${schedule}"\n`, { mode: 0o600 });
    return path;
  };
  A = config('a', pool.ds('a'), '*-*-* 01:10');
  B = config('b', pool.ds('b'), '*-*-* 04:40');
});

after(async () => {
  await kt(A, 'schedule', 'remove');
  await kt(B, 'schedule', 'remove');
  pool.destroy();
});

test("B's install never re-points A's units; B's remove leaves A's timers and units, still running A", async () => {
  const ia = await kt(A, 'schedule', 'install');
  assert.equal(ia.code, 0, ia.stderr);
  const aUnits = ourUnits();
  assert.deepEqual(Object.keys(aUnits).sort(), ['kopiatomic.a-home.timer', 'kopiatomic.a@.service']);

  const ib = await kt(B, 'schedule', 'install');
  assert.equal(ib.code, 0, ib.stderr);
  for (const [f, text] of Object.entries(aUnits)) assert.equal(readFileSync(`${UNIT_DIR}/${f}`, 'utf8'), text, `${f} unchanged by B's install`);
  const timers = (await cmd('systemctl', 'list-timers', '--all', '--no-pager')).stdout;
  assert.match(timers, /kopiatomic\.a-home\.timer\s+kopiatomic\.a@home\.service/);
  assert.match(timers, /kopiatomic\.b-home\.timer\s+kopiatomic\.b@home\.service/);
  const catA = (await cmd('systemctl', 'cat', 'kopiatomic.a@home.service')).stdout;
  assert.match(catA, new RegExp(`^ExecStart=.* --config ${A} run --wait %I$`, 'm'));
  assert.doesNotMatch(catA, new RegExp(B));
  assert.match((await cmd('systemctl', 'cat', 'kopiatomic.b@home.service')).stdout, new RegExp(`^ExecStart=.* --config ${B} run --wait %I$`, 'm'));
  assert.match((await unitProps('kopiatomic.a-home.timer', 'TimersCalendar'))['TimersCalendar']!, /01:10:00/);
  assert.match((await unitProps('kopiatomic.b-home.timer', 'TimersCalendar'))['TimersCalendar']!, /04:40:00/);

  // show lists what is installed, per config.
  const show = await kt(B, 'schedule', 'show');
  assert.match(show.stdout, new RegExp(`#   ${A}: kopiatomic\\.a-home\\.timer`));
  assert.match(show.stdout, new RegExp(`#   ${B} \\(this config\\): kopiatomic\\.b-home\\.timer`));

  const rb = await kt(B, 'schedule', 'remove');
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(ourUnits(), aUnits, "A's unit files intact, B's gone");
  assert.equal((await cmd('systemctl', 'is-enabled', 'kopiatomic.a-home.timer')).stdout.trim(), 'enabled');
  assert.equal((await cmd('systemctl', 'is-active', 'kopiatomic.a-home.timer')).stdout.trim(), 'active');
  assert.doesNotMatch((await cmd('systemctl', 'list-timers', '--all', '--no-pager')).stdout, /kopiatomic\.b-home/);

  // A's job, started as its timer would, runs A's config.
  const r = await cmd('systemctl', 'start', 'kopiatomic.a@home.service');
  assert.equal(r.code, 0, await journal('kopiatomic.a@home.service'));
  assert.equal((await unitProps('kopiatomic.a@home.service', 'ExecMainStatus'))['ExecMainStatus'], '0');
  assert.ok(existsSync(`${dir}/ran-a`), "A's engine ran");
  assert.ok(!existsSync(`${dir}/ran-b`), "B's did not");
});
