// `kopiatomic schedule install|remove|show [JOB] [--cron]`: runs the jobs of a
// config on their `schedule`. Linux with systemd: a template service and one
// timer per job in /etc/systemd/system, named after the config and naming it
// inside (ops/units/systemd.ts), enabled and started; one config's install or
// remove never touches another config's units;
// FreeBSD: a periodic(8) daily script; anywhere: `show --cron` prints cron lines.
// `remove` deletes only files that carry our mark, so it undoes exactly what
// `install` made and never a unit someone wrote by hand.
import { maskText } from '../core/secrets.js';
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Runner } from '../core/exec.js';
import { writeRootFile } from '../safety/root-file.js';
import { cronLine } from '../ops/units/cron.js';
import { warnIfCheckout } from '../ops/checkout-warning.js';
import { periodicPath, periodicScript, PERIODIC_CHECK_SCRIPT, PERIODIC_SCRIPT } from '../ops/units/periodic.js';
import { checkArgv, checkServiceTemplate, checkTimerName, configOfUnit, escapeInstance, JOB_NAME, MARK, runArgv, serviceTemplate, serviceUnit, timerName, timerUnit, unitPrefix } from '../ops/units/systemd.js';
import { resolve } from 'node:path';
import { defaultConfigPath } from '../config/problems.js';
import type { Options } from './options.js';
import { configModules } from './config-modules.js';
import type { CommandSpec } from './command.js';
import { OUTPUT_FLAGS } from './flags.js';
import { UsageError } from '../core/errors.js';
import type { CommandContext } from './lifecycle.js';

export interface ScheduledJob {
  name: string;
  /** systemd OnCalendar; "daily" when the config does not say. */
  schedule: string;
  /** OnCalendar of its repository checks (check_schedule); none: not scheduled. */
  checkSchedule?: string | null;
}

/** The jobs whose checks are scheduled, each with its check schedule. */
const checked = (jobs: ScheduledJob[]) => jobs.flatMap((j) => (j.checkSchedule ? [{ name: j.name, schedule: j.checkSchedule }] : []));

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
  /** Where the weekly script of the checks goes (default PERIODIC_CHECK_SCRIPT). */
  periodicCheckPath?: string;
  /** Whether systemd is PID 1 (default: /run/systemd/system exists). */
  systemd?: boolean;
  /** The default config's path: units of an older version that name no config run it (default: defaultConfigPath()). */
  defaultConfig?: string;
}

/** Exit codes: 0 done, 2 bad usage, 4 a system command failed. */
export async function scheduleAction(argv: string[], ctx: ScheduleContext): Promise<number> {
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
  if (action !== 'remove') warnIfCheckout(script, ctx.err);
  const platform = ctx.platform ?? (process.platform === 'freebsd' ? 'freebsd' : 'linux');
  const unitDir = ctx.unitDir ?? '/etc/systemd/system';
  const periodicBase = ctx.periodicPath ?? PERIODIC_SCRIPT;
  const argvRun = runArgv(node, script, ctx.configPath);
  const units: Units = { dir: unitDir, prefix: unitPrefix(ctx.configPath), config: ctx.configPath };

  try {
    if (cron) {
      ctx.out('# /etc/cron.d/kopiatomic (in a user crontab, leave out the "root" field)');
      for (const j of jobs) ctx.out(cronLine({ job: j.name, schedule: j.schedule, node, script, config: ctx.configPath }));
      for (const j of checked(jobs)) ctx.out(cronLine({ job: j.name, schedule: j.schedule, node, script, config: ctx.configPath, check: true }));
      return 0;
    }
    if (platform === 'freebsd') return freebsd(action, jobs, ctx, units, periodicPath(units.prefix, periodicBase), node, script);
    if (action === 'show') {
      ctx.out(`# ${join(unitDir, serviceTemplate(units.prefix))}\n${serviceUnit({ argv: argvRun, config: units.config })}`);
      for (const j of jobs) ctx.out(`# ${join(unitDir, timerName(j.name, units.prefix))}\n${timerUnit({ job: j.name, schedule: j.schedule, prefix: units.prefix, config: units.config })}`);
      for (const f of checkFiles(jobs, units, node, script)) ctx.out(`# ${f.path}\n${f.text}`);
      showInstalled(ctx, unitDir);
      return 0;
    }
    const systemd = ctx.systemd ?? existsSync('/run/systemd/system');
    if (!systemd) {
      ctx.err('kopiatomic schedule: systemd is not running here; use `kopiatomic schedule show --cron` and cron');
      return 2;
    }
    return action === 'install' ? await install(jobs, ctx, units, argvRun) : await remove(jobs, ctx, units, wanted !== undefined);
  } catch (e) {
    ctx.err(`kopiatomic schedule: ${(e as Error).message}`);
    return 4;
  }
}

/** Where a config's units go and what they are called. */
interface Units {
  dir: string;
  prefix: string;
  config: string;
}

function ours(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').includes(MARK);
  } catch {
    return false;
  }
}

/**
 * The config a unit of ours runs: the one it names, or for a unit of an older
 * version (one template for every config) the one its ExecStart names, else
 * the default config's.
 */
function configOf(path: string, unitDir: string, defaultConfig: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  if (!text.includes(MARK)) return null;
  const named = configOfUnit(text);
  if (named !== null) return named;
  let service = text;
  if (path.endsWith('.timer')) {
    try {
      service = readFileSync(join(unitDir, serviceTemplate()), 'utf8');
    } catch {
      return defaultConfig;
    }
  }
  return /^ExecStart=.* --config ("[^"]*"|\S+) /m.exec(service)?.[1]?.replace(/^"|"$/g, '') ?? defaultConfig;
}

/** Writes path unless a file that is not ours is there. */
function writeOurs(path: string, content: string): void {
  if (existsSync(path) && !ours(path)) throw new Error(`${path} exists and was not made by kopiatomic; not overwriting it`);
  writeRootFile(path, content, 0o644, { what: 'unit file' });
}

/** Our timers in unitDir, each with the config it runs. */
function installedTimers(unitDir: string, defaultConfig: string): { timer: string; config: string }[] {
  let names: string[] = [];
  try {
    names = readdirSync(unitDir).filter((f) => /^kopiatomic[-.].+\.timer$/.test(f)).sort();
  } catch {
    return [];
  }
  return names.flatMap((timer) => {
    const config = configOf(join(unitDir, timer), unitDir, defaultConfig);
    return config === null ? [] : [{ timer, config }];
  });
}

/** What is installed, per config. */
function showInstalled(ctx: ScheduleContext, unitDir: string): void {
  const all = installedTimers(unitDir, ctx.defaultConfig ?? defaultConfigPath());
  const configs = [...new Set(all.map((t) => t.config))];
  ctx.out(`# installed in ${unitDir}:${configs.length ? '' : ' nothing'}`);
  for (const c of configs) ctx.out(`#   ${c}${c === ctx.configPath ? ' (this config)' : ''}: ${all.filter((t) => t.config === c).map((t) => t.timer).join(' ')}`);
}

/** The check template and timers for the jobs that set check_schedule (none: no files). */
function checkFiles(jobs: ScheduledJob[], units: Units, node: string, script: string): { path: string; text: string; timer?: string }[] {
  const list = checked(jobs);
  if (!list.length) return [];
  const what = 'repository check of job';
  return [
    { path: join(units.dir, checkServiceTemplate(units.prefix)), text: serviceUnit({ argv: checkArgv(node, script, units.config), config: units.config, what }) },
    ...list.map((j) => {
      const timer = checkTimerName(j.name, units.prefix);
      const unit = `${units.prefix}-check@${escapeInstance(j.name)}.service`;
      return { path: join(units.dir, timer), timer, text: timerUnit({ job: j.name, schedule: j.schedule, prefix: units.prefix, config: units.config, unit, what }) };
    }),
  ];
}

async function install(jobs: ScheduledJob[], ctx: ScheduleContext, units: Units, argvRun: string[]): Promise<number> {
  // A schedule systemd cannot read would make a timer that never fires.
  for (const j of [...jobs, ...checked(jobs)]) {
    const r = await ctx.runner.run(['systemd-analyze', 'calendar', j.schedule], { okCodes: [1] });
    if (r.code !== 0) {
      ctx.err(`kopiatomic schedule: job ${j.name}: "${j.schedule}" is not a systemd calendar expression (see systemd.time(7))`);
      return 2;
    }
  }
  const dflt = ctx.defaultConfig ?? defaultConfigPath();
  const files = [
    { path: join(units.dir, serviceTemplate(units.prefix)), text: serviceUnit({ argv: argvRun, config: units.config }) },
    ...jobs.map((j) => ({ path: join(units.dir, timerName(j.name, units.prefix)), text: timerUnit({ job: j.name, schedule: j.schedule, prefix: units.prefix, config: units.config }) })),
    ...checkFiles(jobs, units, argvRun[0]!, argvRun[1]!),
  ];
  // Every file is checked before the first is written: all or nothing.
  for (const f of files) if (existsSync(f.path)) checkOwner(f.path, units, dflt);
  for (const f of files) writeOurs(f.path, f.text);
  await ctx.runner.run(['systemctl', 'daemon-reload'], { mutates: true });
  const timers = [...jobs.map((j) => timerName(j.name, units.prefix)), ...checked(jobs).map((j) => checkTimerName(j.name, units.prefix))];
  await ctx.runner.run(['systemctl', 'enable', '--now', ...timers], { mutates: true });
  for (const t of timers) ctx.out(`installed and started ${join(units.dir, t)}`);
  return 0;
}

/** A unit already there must be ours and run this config: never re-pointed at another. */
function checkOwner(path: string, units: Units, defaultConfig: string): void {
  if (!ours(path)) throw new Error(`${path} exists and was not made by kopiatomic; not overwriting it`);
  const owner = configOf(path, units.dir, defaultConfig);
  if (owner !== null && owner !== units.config) throw new Error(`${path} belongs to the config ${owner}; not re-pointing it at ${units.config} (remove it with: kopiatomic --config ${owner} schedule remove)`);
}

async function remove(jobs: ScheduledJob[], ctx: ScheduleContext, units: Units, named: boolean): Promise<number> {
  const dflt = ctx.defaultConfig ?? defaultConfigPath();
  // Only this config's timers: those that name it (or, from an older version, run it).
  const mine = installedTimers(units.dir, dflt)
    .filter((t) => t.config === units.config)
    .map((t) => t.timer);
  const targets = named ? jobs.flatMap((j) => [timerName(j.name, units.prefix), checkTimerName(j.name, units.prefix)]).filter((t) => mine.includes(t)) : mine;
  if (targets.length) {
    await ctx.runner.run(['systemctl', 'disable', '--now', ...targets], { mutates: true });
    for (const t of targets) {
      rmSync(join(units.dir, t));
      ctx.out(`removed ${join(units.dir, t)}`);
    }
  }
  // The template goes with the last of this config's timers, and only if it runs this config.
  const service = join(units.dir, serviceTemplate(units.prefix));
  const othersUseIt = installedTimers(units.dir, dflt).some((t) => readTimerUnit(join(units.dir, t.timer)).startsWith(`${units.prefix}@`));
  if (!othersUseIt && ours(service) && configOf(service, units.dir, dflt) === units.config) {
    rmSync(service);
    ctx.out(`removed ${service}`);
  }
  // The check template likewise, with the last of this config's check timers.
  const checkService = join(units.dir, checkServiceTemplate(units.prefix));
  const checksLeft = installedTimers(units.dir, dflt).some((t) => readTimerUnit(join(units.dir, t.timer)).startsWith(`${units.prefix}-check@`));
  if (!checksLeft && ours(checkService) && configOf(checkService, units.dir, dflt) === units.config) {
    rmSync(checkService);
    ctx.out(`removed ${checkService}`);
  }
  if (!targets.length && named) ctx.out('nothing to remove: no timer of kopiatomic for that job');
  await ctx.runner.run(['systemctl', 'daemon-reload'], { mutates: true });
  return 0;
}

/** The Unit= a timer starts. */
function readTimerUnit(path: string): string {
  try {
    return /^Unit=(.*)$/m.exec(readFileSync(path, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

function freebsd(action: string, jobs: ScheduledJob[], ctx: ScheduleContext, units: Units, path: string, node: string, script: string): number {
  const checks = checked(jobs);
  const checkPath = periodicPath(units.prefix, ctx.periodicCheckPath ?? PERIODIC_CHECK_SCRIPT);
  const files = [
    { path, v: `daily_${units.prefix.replace(/\./g, '_')}`, text: periodicScript({ node, script, config: ctx.configPath, jobs: jobs.map((j) => j.name), prefix: units.prefix }) },
    // The checks' weekly script exists only while a job sets check_schedule; remove takes it in any case.
    ...(checks.length || action === 'remove'
      ? [{ path: checkPath, v: `weekly_${units.prefix.replace(/\./g, '_')}_check`, text: periodicScript({ node, script, config: ctx.configPath, jobs: checks.map((j) => j.name), prefix: units.prefix, check: true }) }]
      : []),
  ];
  const ownerOf = (p: string) => (existsSync(p) && ours(p) ? periodicConfig(readFileSync(p, 'utf8')) : null);
  if (action === 'install') {
    // Every file is checked before the first is written: all or nothing.
    for (const f of files) {
      const owner = ownerOf(f.path);
      if (owner !== null && owner !== ctx.configPath) throw new Error(`${f.path} belongs to the config ${owner}; not re-pointing it at ${ctx.configPath}`);
      if (existsSync(f.path) && !ours(f.path)) throw new Error(`${f.path} exists and was not made by kopiatomic; not overwriting it`);
    }
  }
  for (const f of files) {
    if (action === 'show') {
      ctx.out(`# ${f.path}\n${f.text}`);
    } else if (action === 'install') {
      // A periodic script must be executable.
      writeRootFile(f.path, f.text, 0o755, { what: 'periodic script' });
      ctx.out(`installed ${f.path}; to turn it on, add to /etc/periodic.conf:\n  ${f.v}_enable="YES"`);
    } else if (ours(f.path) && ownerOf(f.path) === ctx.configPath) {
      rmSync(f.path);
      ctx.out(`removed ${f.path}; ${f.v}_* lines in /etc/periodic.conf can go too`);
    } else if (f.path === path) ctx.out(`nothing to remove: ${f.path} is absent, not ours, or runs another config (${ownerOf(f.path) ?? 'none'})`);
  }
  if (action === 'remove') return 0;
  for (const j of checks.filter((c) => c.schedule !== 'weekly')) ctx.err(`kopiatomic schedule: job ${j.name} has check_schedule "${j.schedule}"; periodic checks it weekly. For another time use cron: kopiatomic schedule show --cron`);
  for (const j of jobs.filter((x) => x.schedule !== 'daily')) ctx.err(`kopiatomic schedule: job ${j.name} has schedule "${j.schedule}"; periodic runs it daily. For another time use cron: kopiatomic schedule show --cron`);
  return 0;
}

/** The config a periodic script of ours runs: the one it names, or (an older version) its default. */
function periodicConfig(text: string): string | null {
  return configOfUnit(text) ?? /^: \$\{daily_kopiatomic_config:='(.*)'\}$/m.exec(text)?.[1]?.replace(/'\\''/g, "'") ?? null;
}

/** `kopiatomic [--config F] schedule install|remove|show [JOB] [--cron]`: the config's jobs and their schedules. */
export async function scheduleCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const configPath = resolve(opts.configFile ?? defaultConfigPath(ctx.platform.name));
  const [action, job] = opts.names;
  // remove needs no readable config: it deletes what carries our mark.
  let jobs: ScheduledJob[] = [];
  if (action !== 'remove') {
    const { loadConfig, resolveJobs } = await configModules();
    const loaded = loadConfig(opts.configFile, ctx.platform.name);
    jobs = resolveJobs(loaded, job ? [job] : [], { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: false }).map((j) => ({ name: j.job, schedule: j.schedule, checkSchedule: j.checkSchedule }));
  }
  const argv = [...opts.names, ...(opts.cron ? ['--cron'] : [])];
  return scheduleAction(argv, {
    configPath,
    defaultConfig: resolve(defaultConfigPath(ctx.platform.name)),
    jobs,
    runner: ctx.runner,
    platform: ctx.platform.name,
    out: (l) => ctx.reporter.print(l),
    err: (l) => process.stderr.write(maskText(l) + '\n'),
  });
}

function scheduleSpec(action: 'install' | 'remove' | 'show', summary: string, about: string, extra: string[] = []): CommandSpec {
  return {
    words: ['schedule', action],
    mode: 'schedule',
    operands: '[JOB]',
    summary,
    about,
    flags: ['config', ...extra, ...OUTPUT_FLAGS],
    check(operands) {
      if (operands.length > 1) throw new UsageError('schedule takes at most one job name');
      return [action, ...operands];
    },
    completes: 'job',
  };
}

export const scheduleSpecs: readonly CommandSpec[] = [
  scheduleSpec(
    'install',
    "run the jobs on their schedule: systemd timers, or periodic(8)",
    `Installs and starts a systemd timer per job (its schedule, OnCalendar
syntax) and one template service naming this configuration file; a job
with check_schedule also gets a check timer (PREFIX-check@JOB.timer) and
its template; on FreeBSD a periodic(8) daily script. Another
configuration's units are never touched.`,
  ),
  scheduleSpec('remove', 'remove what schedule install made', `Removes the timers, services or periodic script that schedule install made
for this configuration, and only files that carry its mark.`),
  scheduleSpec('show', 'print the units, or cron lines with --cron', `Prints what schedule install would write, or with --cron the crontab lines
that run each job on its schedule.`, ['cron']),
];
