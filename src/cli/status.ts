// `kopiatomic status [JOB] [--json]`: each job's last run, from the status
// file, and an exit code that follows the Nagios/Icinga plugin convention so
// the command serves as a check as it is:
//   0 OK        every job's last run succeeded within its max_age
//   1 WARNING   a last run succeeded but is older than max_age, or it saved an
//               imperfect backup (partial, cleanup-incomplete, post-hook-failed,
//               retention-failed)
//   2 CRITICAL  a job's last run failed (no backup saved, or interrupted)
//   3 UNKNOWN   a job never ran, the status file cannot be read, or bad usage
// Several jobs: the worst wins, CRITICAL > WARNING > UNKNOWN > OK. Unlike the
// backup command, bad usage exits 3 (UNKNOWN), as monitoring plugins must.
import { maskText } from '../core/secrets.js';
import { parseArgs } from 'node:util';
import { parseDuration, formatDuration } from '../core/duration.js';
import type { RunRecord } from '../ops/run-record.js';
import { readStatus, type CheckRecord } from '../ops/status-file.js';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, defaultConfigPath } from '../config/problems.js';
import type { Options } from './options.js';
import { configModules } from './config-modules.js';
import type { CommandSpec } from './command.js';
import { OUTPUT_FLAGS } from './flags.js';
import { UsageError } from '../core/errors.js';
import type { CommandContext } from './lifecycle.js';

export const STATUS_EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type State = keyof typeof STATUS_EXIT;

export interface StatusJob {
  name: string;
  /** Seconds; none = age is not checked. */
  maxAgeSeconds?: number;
}

export interface StatusContext {
  statusFile: string;
  /** The jobs of the config; undefined in the flag form (then: every job in the status file). */
  jobs?: StatusJob[];
  now?: Date;
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface JobState {
  job: string;
  state: State;
  reason: string;
  ageSeconds?: number;
  maxAgeSeconds?: number;
  last?: RunRecord;
  /** The last check of each of its repositories (`kopiatomic check`). */
  checks?: CheckRecord[];
}

/** A failed last check of any repository makes the job CRITICAL: its backups may not restore. */
export function withChecks(s: JobState, checks: Record<string, CheckRecord> | undefined): JobState {
  const list = Object.values(checks ?? {}).sort((a, b) => a.repository.localeCompare(b.repository));
  if (!list.length) return s;
  const failed = list.filter((c) => !c.ok).map((c) => c.repository);
  if (!failed.length) return { ...s, checks: list };
  const reason = `last check of repository ${failed.join(', ')} failed`;
  return { ...s, checks: list, state: 'critical', reason: s.state === 'critical' ? `${s.reason}; ${reason}` : reason };
}

const IMPERFECT = new Set(['partial', 'cleanup-incomplete', 'post-hook-failed', 'retention-failed']);

export function judge(job: StatusJob, r: RunRecord | undefined, now: Date): JobState {
  // Without the configuration (not readable by this account) the max_age the run recorded is used.
  const maxAgeSeconds = job.maxAgeSeconds ?? r?.maxAgeSeconds;
  job = { ...job, ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}) };
  const base = { job: job.name, maxAgeSeconds: job.maxAgeSeconds };
  if (!r) return { ...base, state: 'unknown', reason: 'never ran' };
  const ageSeconds = (now.getTime() - Date.parse(r.end)) / 1000;
  const withAge = { ...base, ageSeconds, last: r };
  if (r.status !== 'ok' && !IMPERFECT.has(r.status)) return { ...withAge, state: 'critical', reason: `last run failed: ${r.status} (exit ${r.exitCode})` };
  if (job.maxAgeSeconds !== undefined && ageSeconds > job.maxAgeSeconds) {
    return { ...withAge, state: 'warning', reason: `last run is ${formatDuration(ageSeconds)} old, more than max_age ${formatDuration(job.maxAgeSeconds)}` };
  }
  if (r.status !== 'ok') return { ...withAge, state: 'warning', reason: `last run: ${r.status} (exit ${r.exitCode})` };
  return { ...withAge, state: 'ok', reason: 'last run ok' };
}

const RANK: Record<State, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

export function worst(states: State[]): State {
  return states.reduce<State>((w, s) => (RANK[s] > RANK[w] ? s : w), 'ok');
}

function bytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

function describe(s: JobState): string {
  const r = s.last;
  if (!r) return `${s.job}: ${s.state.toUpperCase()}: never ran`;
  const took = (Date.parse(r.end) - Date.parse(r.start)) / 1000;
  const parts = [
    `${s.job}: ${s.state.toUpperCase()}: ${s.reason}`,
    `  last run ${r.start} (${formatDuration(s.ageSeconds ?? 0)} ago) on ${r.host}, took ${formatDuration(took)}`,
    `  ${r.datasets.length} dataset(s) in ${r.pools.length} pool(s)${r.snapshot ? `, snapshot ${r.snapshot}` : ''}${r.leftovers ? `, ${r.leftovers} leftover(s)` : ''}`,
  ];
  const e = r.engine;
  if (e) {
    const f = [
      e.filesNew !== undefined ? `${e.filesNew} new` : '',
      e.filesChanged !== undefined ? `${e.filesChanged} changed` : '',
      e.files !== undefined ? `${e.files} files` : '',
      e.bytesProcessed !== undefined ? `${bytes(e.bytesProcessed)} read` : '',
      e.bytesAdded !== undefined ? `${bytes(e.bytesAdded)} added` : '',
      e.errors ? `${e.errors} error(s)` : '',
      e.snapshotId ? `${e.engine} snapshot ${e.snapshotId}` : '',
    ].filter(Boolean);
    if (f.length) parts.push(`  ${e.engine}: ${f.join(', ')}`);
  }
  // Each repository when there are several or one failed (a job's one implicit repository is the run itself).
  const repos = r.repositories ?? [];
  if (repos.length > 1 || repos.some((x) => x.configured || x.status !== r.status)) {
    for (const x of repos) parts.push(`  repository ${x.name}: ${x.status}${x.retention ? `, retention ${x.retention}` : ''}${x.error ? ` (${x.error})` : ''}`);
  }
  if (r.verify) parts.push(`  verified: ${r.verify.filesCompared} files, ${bytes(r.verify.bytesCompared)}, ${r.verify.differences} difference(s)`);
  if (r.lastSuccess && r.status !== 'ok') parts.push(`  last success ${r.lastSuccess}`);
  if (r.error) parts.push(`  error: ${r.error}`);
  return parts.join('\n');
}

function describeChecks(s: JobState, now: Date): string[] {
  return (s.checks ?? []).map(
    (c) => `  check of repository ${c.repository}: ${c.ok ? 'ok' : 'FAILED'} ${c.end} (${formatDuration((now.getTime() - Date.parse(c.end)) / 1000)} ago)${c.readPercent ? `, ${c.readPercent}% of the data read` : ''}${c.error ? `: ${c.error}` : ''}`,
  );
}

export function statusReport(argv: string[], ctx: StatusContext): number {
  let values: { json?: boolean; 'max-age'?: string; 'status-file'?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' }, 'max-age': { type: 'string' }, 'status-file': { type: 'string' } },
      allowPositionals: true,
    }));
    if (positionals.length > 1) throw new Error('status takes at most one job name');
  } catch (e) {
    ctx.err(`kopiatomic status: ${(e as Error).message}`);
    return STATUS_EXIT.unknown;
  }
  const file = values['status-file'] ?? ctx.statusFile;
  let maxAge: number | undefined;
  let data;
  try {
    maxAge = values['max-age'] !== undefined ? parseDuration(values['max-age']) : undefined;
    data = readStatus(file);
  } catch (e) {
    ctx.err(`kopiatomic status: ${cannotRead(file, e)}`);
    return STATUS_EXIT.unknown;
  }
  const wanted = positionals[0];
  let jobs: StatusJob[] = ctx.jobs ?? Object.keys(data.jobs).sort().map((name) => ({ name }));
  if (wanted) {
    jobs = jobs.filter((j) => j.name === wanted);
    if (!jobs.length) {
      if (ctx.jobs) {
        ctx.err(`kopiatomic status: no job named ${wanted} in the config`);
        return STATUS_EXIT.unknown;
      }
      jobs = [{ name: wanted }];
    }
  }
  if (maxAge !== undefined) jobs = jobs.map((j) => ({ ...j, maxAgeSeconds: maxAge }));
  const now = ctx.now ?? new Date();
  const states = jobs.map((j) => withChecks(judge(j, data.jobs[j.name], now), data.checks?.[j.name]));
  const overall: State = states.length ? worst(states.map((s) => s.state)) : 'unknown';
  if (values.json) {
    ctx.out(JSON.stringify({ status: overall, exitCode: STATUS_EXIT[overall], statusFile: file, jobs: states }));
  } else {
    const bad = states.filter((s) => s.state !== 'ok');
    const headline = states.length === 0 ? 'no runs recorded' : bad.length ? bad.map((s) => `${s.job}: ${s.reason}`).join('; ') : `${states.length} job(s) ok`;
    ctx.out(`KOPIATOMIC ${overall.toUpperCase()} - ${headline}`);
    for (const s of states) ctx.out([describe(s), ...describeChecks(s, now)].join('\n'));
  }
  return STATUS_EXIT[overall];
}

/** Why the status file could not be read; a permission problem says what to change (it is no failed backup). */
export function cannotRead(file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'EACCES' && code !== 'EPERM') return (e as Error).message;
  return `cannot read ${file}: permission denied (this says nothing about the backups). The status file must be readable by this account: mode 0644, in directories it may search (chmod o+x ${dirname(file)}); kopiatomic sets both when it records a run`;
}

/** A problem reading the configuration that only means this account may not read it. */
function onlyUnreadable(e: unknown): boolean {
  return e instanceof ConfigError && e.problems.every((p) => /EACCES|EPERM/.test(p.message));
}

/**
 * `kopiatomic status [JOB] [--json] [--max-age D] [--status-file F]`: with a
 * configuration this account can read (--config, or the default file when it
 * exists) its jobs and their max_age; without one (none, or mode 0600 and we
 * are a monitoring agent, not root), every job in the status file, each with
 * the max_age its run recorded. Never reads a secret; any failure here is
 * UNKNOWN (3), never CRITICAL.
 */
export async function statusCommand(opts: Options, ctx: CommandContext): Promise<number> {
  let jobs: StatusJob[] | undefined;
  let statusFile = opts.statusFile;
  const err = (l: string) => process.stderr.write(maskText(l) + '\n');
  if (opts.configFile !== null || existsSync(defaultConfigPath(ctx.platform.name))) {
    try {
      const { loadConfig, resolveJobs } = await configModules();
      const loaded = loadConfig(opts.configFile, ctx.platform.name);
      const resolved = resolveJobs(loaded, [], { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: false });
      jobs = resolved.map((j) => ({ name: j.job, ...(j.maxAgeSeconds !== null ? { maxAgeSeconds: j.maxAgeSeconds } : {}) }));
      if (!opts.given.has('statusFile') && resolved[0]) statusFile = resolved[0].statusFile;
    } catch (e) {
      if (!onlyUnreadable(e)) {
        err(`kopiatomic status: ${(e as Error).message}`);
        return STATUS_EXIT.unknown;
      }
      ctx.reporter.verbose('the configuration is not readable by this account: the jobs come from the status file');
    }
  }
  const argv = [...opts.names, ...(opts.json ? ['--json'] : []), ...(opts.maxAge !== null ? ['--max-age', opts.maxAge] : [])];
  return statusReport(argv, {
    statusFile,
    ...(jobs ? { jobs } : {}),
    out: (l) => ctx.reporter.print(l),
    err,
  });
}

export const statusSpec: CommandSpec = {
  words: ['status'],
  mode: 'status',
  operands: '[JOB]',
  summary: "each job's last run, as a monitoring check (Nagios exit codes)",
  about: `Reports each job's last run from the status file, with the exit code of a
Nagios/Icinga check: 0 OK, 1 WARNING (older than max_age, or an imperfect
backup), 2 CRITICAL (failed), 3 UNKNOWN (never ran, unreadable, or bad
usage). Several jobs: the worst wins. Needs no root when the status file is
readable.`,
  flags: ['config', 'max-age', 'status-file', ...OUTPUT_FLAGS],
  check(operands) {
    if (operands.length > 1) throw new UsageError('status takes at most one job name');
    return operands;
  },
  completes: 'job',
};
