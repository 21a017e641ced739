// Prometheus textfile metrics (node_exporter's textfile collector): one file,
// one set of series per job (labels job and host). A run rewrites its own
// job's series and keeps every other job's, read back from the file.
import { readRootFile, withFileLock, writeRootFile, type RootFileOptions } from '../safety/root-file.js';
import type { EngineFigures } from '../engine/engine.js';
import { succeeded, type RunRecord } from './run-record.js';
import type { CheckRecord } from './status-file.js';

type Labels = Record<string, string>;
export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

interface MetricDef {
  name: string;
  help: string;
  /** Extra labels besides job and host. */
  value: (r: RunRecord) => number | undefined | { labels: Labels; value: number }[];
}

const t = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : undefined);

/** The repositories a job's configuration names; undefined for a job with its one implicit repository. */
const configured = (r: RunRecord) => (r.repositories?.some((x) => x.configured) ? r.repositories : undefined);

/**
 * A figure of the backup: one sample per repository, labelled repository,
 * for a job with configured repositories; else, as before repositories
 * existed, one sample of the run's figures without that label.
 */
function engineSeries(name: string, help: string, of: (e: EngineFigures) => number | undefined): MetricDef {
  return {
    name,
    help,
    value: (r) => {
      const repos = configured(r);
      if (!repos) return r.engine ? of(r.engine) : undefined;
      return repos.flatMap((x) => {
        const v = x.engine ? of(x.engine) : undefined;
        return v === undefined ? [] : [{ labels: { repository: x.name }, value: v }];
      });
    },
  };
}
const PHASES = ['setup', 'backup', 'verify', 'teardown'] as const;

// Every series the file can hold, in the order they are written.
const METRICS: MetricDef[] = [
  { name: 'kopiatomic_last_run_start_timestamp_seconds', help: 'When the last run started (Unix time).', value: (r) => t(r.start) },
  { name: 'kopiatomic_last_run_end_timestamp_seconds', help: 'When the last run ended (Unix time).', value: (r) => t(r.end) },
  { name: 'kopiatomic_last_success_timestamp_seconds', help: 'When the last successful run ended (Unix time); kept across failed runs.', value: (r) => t(r.lastSuccess) },
  { name: 'kopiatomic_last_run_exit_code', help: 'Exit code of the last run (0 = ok).', value: (r) => r.exitCode },
  { name: 'kopiatomic_last_run_success', help: '1 if the last run succeeded, else 0.', value: (r) => (succeeded(r.status) ? 1 : 0) },
  { name: 'kopiatomic_last_run_status', help: 'Status of the last run, as the label status (value always 1).', value: (r) => [{ labels: { status: r.status }, value: 1 }] },
  { name: 'kopiatomic_last_run_duration_seconds', help: 'Wall time of the last run.', value: (r) => (r.start && r.end ? (Date.parse(r.end) - Date.parse(r.start)) / 1000 : undefined) },
  {
    name: 'kopiatomic_last_run_phase_duration_seconds',
    help: 'Wall time of each phase of the last run (setup, backup, verify, teardown).',
    value: (r) => PHASES.filter((p) => r.durations[p] !== undefined).map((p) => ({ labels: { phase: p }, value: r.durations[p]! })),
  },
  { name: 'kopiatomic_last_run_datasets', help: 'Datasets backed up by the last run.', value: (r) => r.datasets.length },
  { name: 'kopiatomic_last_run_pools', help: 'Pools snapshotted by the last run.', value: (r) => r.pools.length },
  { name: 'kopiatomic_last_run_leftovers', help: 'Things the last run could not clean up (0 = nothing left behind).', value: (r) => r.leftovers },
  engineSeries('kopiatomic_last_run_engine_files_new', 'New files the engine reported (restic).', (e) => e.filesNew),
  engineSeries('kopiatomic_last_run_engine_files_changed', 'Changed files the engine reported (restic).', (e) => e.filesChanged),
  engineSeries('kopiatomic_last_run_engine_files', 'Files in the backup as the engine reported them.', (e) => e.files),
  engineSeries('kopiatomic_last_run_engine_processed_bytes', 'Bytes the engine read from the frozen tree.', (e) => e.bytesProcessed),
  engineSeries('kopiatomic_last_run_engine_added_bytes', 'Bytes the engine added to the repository (restic).', (e) => e.bytesAdded),
  engineSeries('kopiatomic_last_run_engine_errors', 'Entries the engine could not read (kopia).', (e) => e.errors),
  {
    name: 'kopiatomic_last_run_repository_success',
    help: "1 if the last run's backup to the repository (label repository) succeeded, else 0; jobs with configured repositories.",
    value: (r) => configured(r)?.map((x) => ({ labels: { repository: x.name }, value: x.status === 'ok' || x.status === 'retention-failed' ? 1 : 0 })),
  },
  {
    name: 'kopiatomic_last_run_retention_success',
    help: "1 if the retention after the last run's backup to the repository (label repository) succeeded, 0 if it failed or was skipped; jobs with a retention.",
    value: (r) => r.repositories?.filter((x) => x.retention).map((x) => ({ labels: { repository: x.name }, value: x.retention === 'ok' ? 1 : 0 })),
  },
  { name: 'kopiatomic_last_run_verify_files', help: 'Files compared between the backup and the snapshot.', value: (r) => r.verify?.filesCompared },
  { name: 'kopiatomic_last_run_verify_bytes', help: 'Bytes compared between the backup and the snapshot.', value: (r) => r.verify?.bytesCompared },
  { name: 'kopiatomic_last_run_verify_differences', help: 'Differences found between the backup and the snapshot (0 = identical).', value: (r) => r.verify?.differences },
];
// A repository check's series (`kopiatomic check`), labels job, repository and host:
// kept when a run rewrites its job's series, and the other way round.
const CHECK_METRICS = [
  { name: 'kopiatomic_check_last_time_seconds', help: 'When the last check of the repository ended (Unix time).' },
  { name: 'kopiatomic_check_success', help: '1 if the last check of the repository found no error, else 0.' },
  { name: 'kopiatomic_check_read_percent', help: 'Share of the data the last check of the repository read back (0 = the structure only).' },
];
const CHECKS = new Set(CHECK_METRICS.map((m) => m.name));
const KNOWN = new Set([...METRICS.map((m) => m.name), ...CHECKS]);

/** The samples of one repository check. */
export function checkSamples(c: CheckRecord): Sample[] {
  const labels = { job: c.job, repository: c.repository, host: c.host };
  const values = [Date.parse(c.end) / 1000, c.ok ? 1 : 0, c.readPercent ?? 0];
  return CHECK_METRICS.map((m, i) => ({ name: m.name, labels, value: values[i]! }));
}

/** The file's new content after a check: every series kept but this job and repository's check series. */
export function mergeCheck(oldText: string, c: CheckRecord): string {
  const old = parse(oldText).filter((s) => KNOWN.has(s.name) && !(CHECKS.has(s.name) && s.labels['job'] === c.job && s.labels['repository'] === c.repository));
  return render([...old, ...checkSamples(c)]);
}

/** The samples of one run. */
export function samplesFor(r: RunRecord): Sample[] {
  const base = { job: r.job, host: r.host };
  const out: Sample[] = [];
  for (const m of METRICS) {
    const v = m.value(r);
    if (v === undefined) continue;
    if (typeof v === 'number') out.push({ name: m.name, labels: base, value: v });
    else for (const s of v) out.push({ name: m.name, labels: { ...base, ...s.labels }, value: s.value });
  }
  return out;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const formatValue = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

export function render(samples: Sample[]): string {
  const lines: string[] = [];
  for (const m of [...METRICS, ...CHECK_METRICS]) {
    const mine = samples.filter((s) => s.name === m.name);
    if (!mine.length) continue;
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`);
    mine.sort((a, b) => key(a).localeCompare(key(b)));
    for (const s of mine) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${s.name}{${labels}} ${formatValue(s.value)}`);
    }
  }
  return lines.join('\n') + '\n';
}

const key = (s: Sample) => JSON.stringify(Object.entries(s.labels));

/** Samples of a text exposition file (our own format: name{labels} value). Unknown lines are skipped. */
export function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) continue;
    const labels = m[2] ? parseLabels(m[2].slice(1, -1)) : {};
    if (!labels) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') continue;
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

function parseLabels(s: string): Labels | null {
  const labels: Labels = {};
  let i = 0;
  while (i < s.length) {
    const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(s.slice(i));
    if (!m) return s.slice(i).trim() === '' || s.slice(i).trim() === ',' ? labels : null;
    i += m[0].length;
    let v = '';
    for (;;) {
      const c = s[i++];
      if (c === undefined) return null;
      if (c === '"') break;
      if (c === '\\') {
        const n = s[i++];
        v += n === 'n' ? '\n' : n ?? '';
      } else v += c;
    }
    labels[m[1]!] = v;
    const rest = /^\s*,?/.exec(s.slice(i))!;
    i += rest[0].length;
  }
  return labels;
}

/**
 * The file's new content after this run: other jobs' series as they were,
 * this job's replaced. The last success time comes from the record, or when
 * the record does not carry it, from this job's series in the old file.
 */
export function merge(oldText: string, r: RunRecord): string {
  const old = parse(oldText).filter((s) => KNOWN.has(s.name));
  const others = old.filter((s) => s.labels['job'] !== r.job || CHECKS.has(s.name));
  let record = succeeded(r.status) && !r.lastSuccess ? { ...r, lastSuccess: r.end } : r;
  if (!record.lastSuccess) {
    const prev = old.find((s) => s.labels['job'] === r.job && s.name === 'kopiatomic_last_success_timestamp_seconds');
    if (prev) record = { ...r, lastSuccess: new Date(prev.value * 1000).toISOString() };
  }
  return render([...others, ...samplesFor(record)]);
}

// node_exporter's textfile directory is often owned by its own account: see
// root-file.ts for how root writes there without following any name.
const METRICS_FILE: RootFileOptions = { what: 'metrics file', sharedParent: true };

/** Rewrites FILE with this check's series. */
export async function writeCheckMetrics(file: string, c: CheckRecord): Promise<void> {
  await withFileLock(file, METRICS_FILE, () => {
    writeRootFile(file, mergeCheck(readRootFile(file) ?? '', c), 0o644, METRICS_FILE);
  });
}

/** Rewrites FILE with this run's series (mode 0644: node_exporter runs unprivileged). */
export async function writeMetrics(file: string, r: RunRecord): Promise<void> {
  await withFileLock(file, METRICS_FILE, () => {
    writeRootFile(file, merge(readRootFile(file) ?? '', r), 0o644, METRICS_FILE);
  });
}
