// A job as commands receive it: the schema's defaults, then [defaults], then
// the job's own table, then the flags given on the command line.
import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { ZFS_TIMEOUT_DEFAULT } from '../core/exec.js';
import { rememberJobSecrets } from '../core/secrets.js';
import { checkMountRootPath, implicitRepository, KILL_AFTER_DEFAULT, resolveEngine, statusFileDefault, type Flavour, type JobFlags, type JobOptions } from './job.js';
import { splitWords } from '../core/words.js';
import { didYouMean, type LoadedConfig } from './load.js';
import { ConfigError, type Problem } from './problems.js';
import { rootsNestApart } from '../core/nested-roots.js';
import { durationSeconds, type DefaultsConfig, type JobConfig } from './schema.js';

export interface ResolveOptions {
  flavour: Flavour;
  platform?: string;
  /** Read env_files now (a run); `config show` and `check` leave them unread. */
  readEnvFiles: boolean;
  /** Flags given with the command: those in `given` override the job. */
  flags?: JobFlags;
}

const words = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : splitWords(v));

/** The jobs named (all, in the file's order, when none), each resolved; every problem at once. */
/** A key that takes seconds or a duration (schema's seconds()). */
const inSeconds = (v: number | string | undefined): number | undefined => (typeof v === 'string' ? durationSeconds(v) : v);

export function resolveJobs(loaded: LoadedConfig, names: string[], o: ResolveOptions): JobOptions[] {
  const all = Object.keys(loaded.config.jobs ?? {});
  const problems: Problem[] = [];
  const first = loaded.files[0]?.path ?? '';
  if (all.length === 0) problems.push({ file: first, line: 0, col: 0, message: 'no jobs defined: add a [jobs.NAME] table' });
  for (const n of names) {
    if (!all.includes(n)) {
      const hint = didYouMean(n, all);
      problems.push({ file: first, line: 0, col: 0, message: `no job named ${JSON.stringify(n)}${hint ? ` (did you mean ${hint}?)` : ''}; jobs: ${all.join(', ') || 'none'}` });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const out: JobOptions[] = [];
  for (const n of names.length ? names : all) {
    try {
      out.push(resolveJob(loaded, n, o));
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/**
 * `run` and `config check`: jobs whose mount roots nest would walk into each
 * other's trees (equal roots share one lock instead); each is a problem at
 * its mount_root. Reading commands (status, jobs, schedule) do not ask.
 */
export function checkNestedMountRoots(jobs: JobOptions[], loaded: LoadedConfig): void {
  const problems: Problem[] = [];
  for (const [i, b] of jobs.entries()) {
    const a = jobs.slice(0, i).find((x) => rootsNestApart(x.mountRoot, b.mountRoot));
    if (a) problems.push({ ...loaded.where(['jobs', b.job, 'mount_root']), message: `job ${b.job}: mount root ${b.mountRoot} nests with job ${a.job}'s ${a.mountRoot}: give each job a mount root of its own, side by side (or the same one)` });
  }
  if (problems.length) throw new ConfigError(problems);
}

export function resolveJob(loaded: LoadedConfig, name: string, o: ResolveOptions): JobOptions {
  const d: DefaultsConfig = loaded.config.defaults ?? {};
  const j: JobConfig = loaded.config.jobs?.[name] ?? {};
  const problems: Problem[] = [];
  const problem = (path: string[], message: string) => problems.push({ ...loaded.where(['jobs', name, ...path]), message: `job ${name}: ${message}` });
  const pick = <K extends keyof JobConfig>(k: K): JobConfig[K] => (j[k] !== undefined ? j[k] : d[k]);
  const guard = <T>(path: string[], f: () => T, fallback: T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof UsageError) problem(path, e.message);
      else throw e;
      return fallback;
    }
  };

  const select = pick('select') ?? 'datasets';
  const datasets = pick('datasets') ?? [];
  if (select === 'datasets' && datasets.length === 0) problem([], 'no datasets: set datasets = [...], or select = "property" or "all"');
  if (select !== 'datasets' && j.datasets?.length) problem(['datasets'], `datasets cannot be used with select = "${select}"`);

  const command = words(pick('command'));
  const engine = guard(['engine'], () => resolveEngine(pick('engine'), command ?? null, o.flavour), resolveEngine(o.flavour.engine, null, o.flavour));
  if (command && command.length === 0) problem(['command'], 'command is empty');
  // The default follows the engine (restic jobs assemble under /restic), as the two programs do.
  const defaultRoot = engine.defaultMountRoot ?? o.flavour.mountRoot;
  const mountRoot = guard(['mount_root'], () => checkMountRootPath(pick('mount_root') ?? defaultRoot, 'mount_root'), defaultRoot);
  const verify = pick('verify');
  const envFiles = { ...(d.env_files ?? {}), ...(j.env_files ?? {}) };
  const env: Record<string, string> = { ...(d.env ?? {}), ...(j.env ?? {}) };
  /** Reads each NAME = file into `into` (a run only); a file others can read is a problem at its key. */
  const readEnvFiles = (files: Record<string, string>, into: Record<string, string>, at: string[]) => {
    if (!o.readEnvFiles) return;
    for (const [k, path] of Object.entries(files)) {
      try {
        const st = statSync(path);
        if (st.mode & 0o044) problem([...at, 'env_files', k], `${path} (for ${k}) can be read by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 ${path}`);
        into[k] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        problem([...at, 'env_files', k], `cannot read ${path} for ${k}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  };
  readEnvFiles(envFiles, env, []);
  // Each repository's env and env_files over the job's: a file the
  // repository names wins over a value the job sets, as over the job's file.
  const repositories = (pick('repositories') ?? []).map((r, i) => {
    const renv: Record<string, string> = { ...env, ...(r.env ?? {}) };
    readEnvFiles(r.env_files ?? {}, renv, ['repositories', String(i)]);
    return { name: r.name, env: renv, configured: true };
  });
  const retention = pick('retention');
  const maxAge = pick('max_age');

  let job: JobOptions = {
    job: name,
    targets: select === 'datasets' ? datasets : [],
    all: select === 'all',
    recursive: pick('recursive') ?? false,
    property: select === 'property',
    engine,
    command: command ?? engine.defaultCommand,
    options: words(pick('options')) ?? [],
    pre: pick('pre_hook') ?? null,
    post: pick('post_hook') ?? null,
    mountRoot,
    excludes: pick('exclude') ?? [],
    layout: pick('layout') ?? 'tree',
    env,
    metricsFile: pick('metrics_file') ?? null,
    pingUrl: pick('ping_url') ?? null,
    maxAgeSeconds: maxAge ? durationSeconds(maxAge) : null,
    schedule: pick('schedule') ?? 'daily',
    verifyPercent: verify === true ? 100 : verify === false || verify === undefined || verify === 0 ? null : verify,
    verifyCommand: words(pick('verify_command')) ?? null,
    killAfter: inSeconds(pick('kill_after')) ?? KILL_AFTER_DEFAULT,
    zfsTimeout: inSeconds(pick('zfs_timeout')) ?? ZFS_TIMEOUT_DEFAULT,
    statusFile: loaded.config.status_file ?? d.status_file ?? statusFileDefault(o.platform),
    repositories: repositories.length ? repositories : [implicitRepository(env)],
    retention: retention
      ? {
          keepLast: retention.keep_last,
          keepHourly: retention.keep_hourly,
          keepDaily: retention.keep_daily,
          keepWeekly: retention.keep_weekly,
          keepMonthly: retention.keep_monthly,
          keepYearly: retention.keep_yearly,
          prune: retention.prune ?? false,
        }
      : null,
    checkSchedule: pick('check_schedule') ?? null,
    nice: pick('nice') ?? null,
    ioClass: pick('io_class') ?? null,
  };
  if (o.flags) job = applyFlags(job, o.flags);
  rememberJobSecrets(job);
  if (problems.length) throw new ConfigError(problems);
  return job;
}

/** Flags given with `run` override the job's settings. */
export function applyFlags(job: JobOptions, flags: JobFlags): JobOptions {
  const out: JobOptions = { ...job };
  for (const k of flags.given) (out as unknown as Record<string, unknown>)[k] = flags[k];
  if (flags.given.has('all') && flags.all) Object.assign(out, { all: true, property: false, targets: [] });
  if (flags.given.has('property') && flags.property) Object.assign(out, { property: true, all: false, targets: [] });
  return out;
}
