// `kopiatomic schedule install|remove|show [JOB] [--cron]`: runs the jobs of a
// config on their `schedule`. Linux with systemd: the kopiatomic@.service
// template and one timer per job in /etc/systemd/system, enabled and started;
// FreeBSD: a periodic(8) daily script; anywhere: `show --cron` prints cron lines.
// `remove` deletes only files that carry our mark, so it undoes exactly what
// `install` made and never a unit someone wrote by hand.
import { maskText } from '../core/secrets.js';
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Runner } from '../core/exec.js';
import { writeAtomic } from '../core/atomic-file.js';
import { cronLine } from '../ops/units/cron.js';
import { periodicScript, PERIODIC_SCRIPT } from '../ops/units/periodic.js';
import { JOB_NAME, MARK, runArgv, SERVICE, serviceUnit, timerName, timerUnit } from '../ops/units/systemd.js';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { defaultConfigPath } from '../config/problems.js';
import { resolveJobs } from '../config/resolve.js';
import type { Options } from './args.js';
import type { CommandContext } from './lifecycle.js';

export interface ScheduledJob {
  name: string;
  /** systemd OnCalendar; "daily" when the config does not say. */
  schedule: string;
}

export interface ScheduleContext {
  /** The config file, absolute; the scheduled command reads it. */
  configPath: string;
  jobs: ScheduledJob[];
  runner: Runner;
  out: (line: string) => void;
  err: (line: string) => void;
  platform?: 'linux' | 'freebsd';
  /** Defaults: this node and this script, resolved. */
  node?: string;
  script?: string;
  unitDir?: string;
  periodicPath?: string;
  /** Whether systemd is PID 1 (default: /run/systemd/system exists). */
  systemd?: boolean;
}

/** Exit codes: 0 done, 2 bad usage, 4 a system command failed. */
export async function scheduleCommand(argv: string[], ctx: ScheduleContext): Promise<number> {
  let action: string;
  let jobs: ScheduledJob[];
  let cron = false;
  let wanted: string | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { cron: { type: 'boolean' } }, allowPositionals: true });
    cron = Boolean(values.cron);
    action = positionals[0] ?? '';
    if (!['install', 'remove', 'show'].includes(action)) throw new Error('schedule needs install, remove or show');
    if (positionals.length > 2) throw new Error('schedule takes at most one job name');
    wanted = positionals[1];
    jobs = wanted ? ctx.jobs.filter((j) => j.name === wanted) : ctx.jobs;
    if (wanted && !jobs.length && action !== 'remove') throw new Error(`no job named ${wanted} in the config`);
    if (wanted && !jobs.length) jobs = [{ name: wanted, schedule: 'daily' }];
    for (const j of jobs) if (!JOB_NAME.test(j.name)) throw new Error(`job name "${j.name}" cannot name a unit: use letters, digits, ".", "_" and "-"`);
    if (!isAbsolute(ctx.configPath)) throw new Error(`the config path must be absolute: ${ctx.configPath}`);
    if (cron && action !== 'show') throw new Error('--cron goes with show: put the printed lines in /etc/cron.d/kopiatomic (or /etc/crontab)');
    if (!jobs.length && action !== 'remove') throw new Error('the config has no jobs');
  } catch (e) {
    ctx.err(`kopiatomic schedule: ${(e as Error).message}`);
    return 2;
  }
  const node = ctx.node ?? process.execPath;
  const script = ctx.script ?? realpathSync(process.argv[1]!);
  const platform = ctx.platform ?? (process.platform === 'freebsd' ? 'freebsd' : 'linux');
  const unitDir = ctx.unitDir ?? '/etc/systemd/system';
  const periodicPath = ctx.periodicPath ?? PERIODIC_SCRIPT;
  const argvRun = runArgv(node, script, ctx.configPath);

  try {
    if (cron) {
      ctx.out('# /etc/cron.d/kopiatomic (in a user crontab, leave out the "root" field)');
      for (const j of jobs) ctx.out(cronLine({ job: j.name, schedule: j.schedule, node, script, config: ctx.configPath }));
      return 0;
    }
    if (platform === 'freebsd') return freebsd(action, jobs, ctx, periodicPath, node, script);
    if (action === 'show') {
      ctx.out(`# ${join(unitDir, SERVICE)}\n${serviceUnit({ argv: argvRun })}`);
      for (const j of jobs) ctx.out(`# ${join(unitDir, timerName(j.name))}\n${timerUnit({ job: j.name, schedule: j.schedule })}`);
      return 0;
    }
    const systemd = ctx.systemd ?? existsSync('/run/systemd/system');
    if (!systemd) {
      ctx.err('kopiatomic schedule: systemd is not running here; use `kopiatomic schedule show --cron` and cron');
      return 2;
    }
    return action === 'install' ? await install(jobs, ctx, unitDir, argvRun) : await remove(jobs, ctx, unitDir, wanted !== undefined);
  } catch (e) {
    ctx.err(`kopiatomic schedule: ${(e as Error).message}`);
    return 4;
  }
}

function ours(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').includes(MARK);
  } catch {
    return false;
  }
}

/** Writes path unless a file that is not ours is there. */
function writeOurs(path: string, content: string): void {
  if (existsSync(path) && !ours(path)) throw new Error(`${path} exists and was not made by kopiatomic; not overwriting it`);
  writeAtomic(path, content, 0o644);
}

async function install(jobs: ScheduledJob[], ctx: ScheduleContext, unitDir: string, argvRun: string[]): Promise<number> {
  // A schedule systemd cannot read would make a timer that never fires.
  for (const j of jobs) {
    const r = await ctx.runner.run(['systemd-analyze', 'calendar', j.schedule], { okCodes: [1] });
    if (r.code !== 0) {
      ctx.err(`kopiatomic schedule: job ${j.name}: "${j.schedule}" is not a systemd calendar expression (see systemd.time(7))`);
      return 2;
    }
  }
  writeOurs(join(unitDir, SERVICE), serviceUnit({ argv: argvRun }));
  for (const j of jobs) writeOurs(join(unitDir, timerName(j.name)), timerUnit({ job: j.name, schedule: j.schedule }));
  await ctx.runner.run(['systemctl', 'daemon-reload'], { mutates: true });
  const timers = jobs.map((j) => timerName(j.name));
  await ctx.runner.run(['systemctl', 'enable', '--now', ...timers], { mutates: true });
  for (const t of timers) ctx.out(`installed and started ${join(unitDir, t)}`);
  return 0;
}

async function remove(jobs: ScheduledJob[], ctx: ScheduleContext, unitDir: string, named: boolean): Promise<number> {
  const mine = (readdirSync(unitDir).filter((f) => /^kopiatomic-.+\.timer$/.test(f)) as string[]).filter((f) => ours(join(unitDir, f)));
  const targets = named ? jobs.map((j) => timerName(j.name)).filter((t) => mine.includes(t)) : mine;
  if (targets.length) {
    await ctx.runner.run(['systemctl', 'disable', '--now', ...targets], { mutates: true });
    for (const t of targets) {
      rmSync(join(unitDir, t));
      ctx.out(`removed ${join(unitDir, t)}`);
    }
  }
  // The template goes with the last of our timers.
  const service = join(unitDir, SERVICE);
  if (mine.every((t) => targets.includes(t)) && ours(service)) {
    rmSync(service);
    ctx.out(`removed ${service}`);
  }
  if (!targets.length && named) ctx.out('nothing to remove: no timer of kopiatomic for that job');
  await ctx.runner.run(['systemctl', 'daemon-reload'], { mutates: true });
  return 0;
}

function freebsd(action: string, jobs: ScheduledJob[], ctx: ScheduleContext, path: string, node: string, script: string): number {
  const text = periodicScript({ node, script, config: ctx.configPath, jobs: jobs.map((j) => j.name) });
  const notDaily = jobs.filter((j) => j.schedule !== 'daily');
  if (action === 'show') {
    ctx.out(`# ${path}\n${text}`);
  } else if (action === 'install') {
    writeOurs(path, text);
    // A periodic script must be executable.
    writeAtomic(path, text, 0o755);
    ctx.out(`installed ${path}; to turn it on, add to /etc/periodic.conf:\n  daily_kopiatomic_enable="YES"`);
  } else {
    if (ours(path)) {
      rmSync(path);
      ctx.out(`removed ${path}; daily_kopiatomic_* lines in /etc/periodic.conf can go too`);
    } else ctx.out(`nothing to remove: ${path} is absent or not ours`);
    return 0;
  }
  for (const j of notDaily) ctx.err(`kopiatomic schedule: job ${j.name} has schedule "${j.schedule}"; periodic runs it daily. For another time use cron: kopiatomic schedule show --cron`);
  return 0;
}

/** `kopiatomic [--config F] schedule install|remove|show [JOB] [--cron]`: the config's jobs and their schedules. */
export async function scheduleFromOptions(opts: Options, ctx: CommandContext): Promise<number> {
  const configPath = resolve(opts.configFile ?? defaultConfigPath(ctx.platform.name));
  const [action, job] = opts.names;
  // remove needs no readable config: it deletes what carries our mark.
  let jobs: ScheduledJob[] = [];
  if (action !== 'remove') {
    const loaded = loadConfig(opts.configFile, ctx.platform.name);
    jobs = resolveJobs(loaded, job ? [job] : [], { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: false }).map((j) => ({ name: j.job, schedule: j.schedule }));
  }
  const argv = [...opts.names, ...(opts.cron ? ['--cron'] : [])];
  return scheduleCommand(argv, {
    configPath,
    jobs,
    runner: ctx.runner,
    platform: ctx.platform.name,
    out: (l) => ctx.reporter.print(l),
    err: (l) => process.stderr.write(maskText(l) + '\n'),
  });
}
