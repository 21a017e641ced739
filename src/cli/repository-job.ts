// What check, exec and restore share: the configuration's jobs with their
// secrets read, one repository of a job, the engine's repository commands,
// and an engine run with the repository's environment (secrets only there,
// never in an argv).
import { constants } from 'node:os';
import { UsageError } from '../core/errors.js';
import type { ExecResult } from '../core/exec.js';
import { rememberJobSecrets } from '../core/secrets.js';
import type { JobOptions, Repository } from '../config/job.js';
import type { RepositoryVerbs } from '../engine/engine.js';
import { configModules } from './config-modules.js';
import type { CommandContext } from './lifecycle.js';
import type { Options } from './options.js';

/** The named jobs (all when none is), their env_files read. */
export async function repositoryJobs(opts: Options, ctx: CommandContext, names: string[]): Promise<JobOptions[]> {
  const { loadConfig, resolveJobs } = await configModules();
  const loaded = loadConfig(opts.configFile, ctx.platform.name);
  const jobs = resolveJobs(loaded, names, { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: true });
  for (const j of jobs) {
    if (rememberJobSecrets(j).length) ctx.reporter.warn(`job ${j.job}: a secret is in the engine's command line, where every local user can read it (ps): give it in the engine's environment instead (env_files)`);
  }
  return jobs;
}

/** The job's repository of that name; null: its first. */
export function repositoryOf(job: JobOptions, name: string | null): Repository {
  const r = name === null ? job.repositories[0] : job.repositories.find((x) => x.name === name);
  if (!r) throw new UsageError(`job ${job.job} has no repository named ${JSON.stringify(name)}; its repositories: ${job.repositories.map((x) => x.name).join(', ')}`);
  return r;
}

/** The engine's repository commands; the command engine has none. */
export function verbsOf(job: JobOptions): RepositoryVerbs {
  const v = job.engine.repository;
  if (!v) throw new UsageError(`job ${job.job} backs up with a ${job.engine.noun}, which has no repository kopiatomic knows how to reach: use that program's own tools`);
  return v;
}

/** The engine's environment for a repository: ours, then the job's and the repository's (secrets included). */
export function repositoryEnv(r: Repository): NodeJS.ProcessEnv {
  return { ...process.env, ...r.env };
}

/** Runs an engine command live (stdio ours), signals forwarded; its result. */
export async function runLive(ctx: CommandContext, argv: string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  const p = ctx.runner.live(argv, { env, stdoutToStderr: ctx.reporter.json });
  ctx.interrupt.setChild(p.child);
  try {
    return await p.done;
  } finally {
    ctx.interrupt.setChild(null);
  }
}

/** A finished command's exit status as a shell reports it: its code, or 128 + the signal's number. */
export function shellCode(r: ExecResult): number {
  if (r.code !== null) return r.code;
  const n = r.signal ? (constants.signals as Record<string, number>)[r.signal] : undefined;
  return 128 + (n ?? 15);
}
