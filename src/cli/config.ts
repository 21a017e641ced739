// `kopiatomic config check`: every problem of every file, with its place (exit 2).
// `kopiatomic config show [JOB]`: the jobs as resolved, secrets masked (--json: as JSON).
import type { LoadedConfig } from '../config/load.js';
import { isSecretName, MASK } from '../core/secrets.js';
import { discover } from '../discover/inventory.js';
import type { Options } from './options.js';
import { configModules } from './config-modules.js';
import type { CommandSpec } from './command.js';
import { JOB_FLAGS, OUTPUT_FLAGS } from './flags.js';
import { UsageError } from '../core/errors.js';
import type { JobOptions } from '../config/job.js';
import { checkJobsDatasets } from './backup.js';
import type { CommandContext } from './lifecycle.js';
import { which } from '../core/which.js';

export async function configCheckCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { loadConfig, resolveJobs, checkNestedMountRoots } = await configModules();
  const loaded = loadConfig(opts.configFile, ctx.platform.name);
  const jobs = resolveJobs(loaded, [], { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: true });
  checkNestedMountRoots(jobs, loaded);
  // The datasets must exist: checked when zfs is here (read-only: one zfs list).
  let checked = false;
  if (which('zfs')) {
    const inventory = await discover(ctx.runner, ctx.platform);
    checked = true;
    checkJobsDatasets(jobs, inventory, loaded);
  } else ctx.reporter.warn('zfs is not installed here: the datasets were not checked');
  ctx.reporter.event('config-check', { ok: true, files: loaded.files.map((f) => f.path), jobs: jobs.map((j) => j.job), datasetsChecked: checked });
  if (!ctx.reporter.json) ctx.reporter.print(`configuration OK: ${jobs.length} job(s) (${jobs.map((j) => j.job).join(', ')}) from ${loaded.files.map((f) => f.path).join(', ')}`);
  return 0;
}

/** A job as the configuration would spell it, resolved; secrets by name masked here, the rest by the reporter's mask. */
export function describeJob(job: JobOptions, loaded: LoadedConfig): Record<string, unknown> {
  const d = loaded.config.defaults ?? {};
  const j = loaded.config.jobs?.[job.job] ?? {};
  const env = Object.fromEntries(Object.entries(job.env).map(([k, v]) => [k, isSecretName(k) ? MASK : v]));
  return {
    select: job.property ? 'property' : job.all ? 'all' : 'datasets',
    datasets: job.targets,
    recursive: job.recursive,
    exclude: job.excludes,
    engine: job.engine.name,
    command: job.command,
    options: job.options,
    layout: job.layout,
    mount_root: job.mountRoot,
    pre_hook: job.pre,
    post_hook: job.post,
    env,
    env_files: { ...(d.env_files ?? {}), ...(j.env_files ?? {}) },
    metrics_file: job.metricsFile,
    ping_url: job.pingUrl === null ? null : MASK,
    max_age: job.maxAgeSeconds === null ? null : `${job.maxAgeSeconds}s`,
    schedule: job.schedule,
    verify: job.verifyPercent ?? false,
    verify_command: job.verifyCommand,
    kill_after: job.killAfter,
    zfs_timeout: job.zfsTimeout,
    status_file: job.statusFile,
  };
}

function tomlValue(v: unknown): string {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const e = Object.entries(v);
    return e.length ? `{ ${e.map(([k, x]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k)} = ${tomlValue(x)}`).join(', ')} }` : '{}';
  }
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  return JSON.stringify(v);
}

export async function configShowCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { loadConfig, resolveJobs } = await configModules();
  const loaded = loadConfig(opts.configFile, ctx.platform.name);
  const jobs = resolveJobs(loaded, opts.names, { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: false, flags: opts });
  const shown = jobs.map((j) => ({ job: j.job, ...describeJob(j, loaded) }));
  if (opts.json) {
    ctx.reporter.event('config', { files: loaded.files.map((f) => f.path), jobs: shown });
    return 0;
  }
  const out: string[] = [`# resolved from ${loaded.files.map((f) => f.path).join(', ')}; secrets masked`];
  for (const { job, ...rest } of shown) {
    out.push('', `[jobs.${job}]`);
    for (const [k, v] of Object.entries(rest)) if (v !== null) out.push(`${k} = ${tomlValue(v)}`);
  }
  ctx.reporter.print(out.join('\n'));
  return 0;
}

export const configCheckSpec: CommandSpec = {
  words: ['config', 'check'],
  mode: 'config-check',
  operands: '',
  summary: 'validate the configuration (file:line:column, exit 2)',
  about: `Validates the configuration file and its conf.d/*.toml drop-ins: every
problem of every file with its file:line:column (exit 2), and, where zfs is
installed, that each job's datasets exist.`,
  flags: ['config', ...OUTPUT_FLAGS],
  check(operands) {
    if (operands.length) throw new UsageError('config check takes no arguments');
    return operands;
  },
};

export const configShowSpec: CommandSpec = {
  words: ['config', 'show'],
  mode: 'config-show',
  operands: '[JOB]',
  summary: 'the jobs as resolved, secrets masked',
  about: `Prints the jobs as resolved (defaults, drop-ins and the job flags given here
applied), as TOML or with --json as JSON, secrets masked.`,
  flags: ['config', ...JOB_FLAGS, ...OUTPUT_FLAGS],
  check(operands) {
    if (operands.length > 1) throw new UsageError('config show takes at most one job name');
    return operands;
  },
  completes: 'job',
};
