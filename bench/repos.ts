// The benchmark's case "repos": one job backed up to 1 and then to 3 local
// restic repositories from the same pool. The claim measured: N repositories
// cost one setup and one teardown (one snapshot set, one tree mounted and
// unmounted once); only the engine's time grows with N. Run by bench/driver.ts
// in the guest; each result is a `BENCH-JSON {"type":"repos",...}` line that
// bench/report.ts renders with reposTable().
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the driver lends the case. */
export interface ReposBench {
  kopiatomic: string;
  scratch: string;
  runs: number;
  /** The pool's root dataset (backed up recursively). */
  dataset: string;
  emit(o: Record<string, unknown>): void;
  say(s: string): void;
}

export interface ReposResult {
  type: 'repos';
  case: string;
  repos: number;
  run: number;
  ok: boolean;
  exitCode: number | null;
  datasets: number;
  totalMs: number;
  /** Process start to the first engine call. */
  setupMs: number;
  /** End of the last engine call to process exit. */
  teardownMs: number;
  /** The engine calls' own durations, summed (backup-end events). */
  engineMs: number;
  /** Between the first engine call's start and the last one's end, not in any engine call. */
  betweenMs: number;
  engineCalls: number;
  zfs: number | null;
  mount: number | null;
  umount: number | null;
  /** Whether every repository's newest snapshot carries the run's one snapshot tag and time. */
  oneInstant: boolean;
}

const PASSWORD = 'bench-password';

function restic(repo: string, cache: string, ...args: string[]): string {
  return execFileSync('restic', args, { encoding: 'utf8', env: { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: cache }, stdio: ['ignore', 'pipe', 'inherit'] });
}

function config(dataset: string, pwFile: string, repos: string[]): string {
  return [
    '[jobs.bench]',
    'engine = "restic"',
    `datasets = ["${dataset}"]`,
    'recursive = true',
    `env_files = { RESTIC_PASSWORD = "${pwFile}" }`,
    '',
    ...repos.flatMap((r, i) => ['[[jobs.bench.repositories]]', `name = "r${i + 1}"`, `env = { RESTIC_REPOSITORY = "${r}" }`, '']),
  ].join('\n');
}

function runOnce(b: ReposBench, cfg: string, cache: string): Promise<{ code: number | null; stdout: string; stderr: string; t0: number; t1: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [b.kopiatomic, '--json', '--config', cfg, 'run', 'bench'], {
      env: { ...process.env, KOPIATOMIC_COUNT_PROCESSES: '1', RESTIC_CACHE_DIR: cache, RESTIC_REPOSITORY: '', RESTIC_PASSWORD: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, t0, t1: Date.now() }));
  });
}

/** 1 and 3 repositories, BENCH_RUNS times each, after one unmeasured run that gives every repository its first backup. */
export async function reposCase(b: ReposBench, caseId: string, datasets: number): Promise<void> {
  const dir = join(b.scratch, 'repos');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cache = join(dir, 'cache');
  const pw = join(dir, 'password');
  writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
  const repos = [1, 2, 3].map((i) => join(dir, `restic-${i}`));
  for (const r of repos) restic(r, cache, 'init', '-q');
  const cfgs: Record<number, string> = {};
  for (const n of [1, 3]) {
    cfgs[n] = join(dir, `repos-${n}.toml`);
    writeFileSync(cfgs[n]!, config(b.dataset, pw, repos.slice(0, n)), { mode: 0o600 });
  }

  const measure = async (n: number, runNo: number): Promise<ReposResult> => {
    const r = await runOnce(b, cfgs[n]!, cache);
    const events = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; time: string } & Record<string, unknown>);
    const starts = events.filter((e) => e.event === 'backup-start').map((e) => Date.parse(e.time));
    const ends = events.filter((e) => e.event === 'backup-end');
    const engineMs = ends.reduce((a, e) => a + Number(e['ms'] ?? 0), 0);
    const first = Math.min(...starts);
    const last = Math.max(...ends.map((e) => Date.parse(e.time)));
    const counts = events.find((e) => e.event === 'process-counts') as { counts?: Record<string, number> } | undefined;
    // The same ZFS snapshot (the run's tag) and the same time in every repository.
    const newest = repos.slice(0, n).map((repo) => {
      const s = JSON.parse(restic(repo, cache, 'snapshots', '--json', '--latest', '1')) as { time: string; tags?: string[] }[];
      const x = s.sort((p, q) => Date.parse(q.time) - Date.parse(p.time))[0];
      return `${x?.time} ${(x?.tags ?? []).filter((t) => !t.includes(':')).join(',')}`;
    });
    const ok = r.code === 0 && starts.length === n && ends.length === n;
    if (!ok) b.say(`kopiatomic with ${n} repositories failed (exit ${r.code}, ${starts.length} engine calls): ${r.stderr.slice(-1500)}`);
    return {
      type: 'repos',
      case: caseId,
      repos: n,
      run: runNo,
      ok,
      exitCode: r.code,
      datasets,
      totalMs: r.t1 - r.t0,
      setupMs: first - r.t0,
      teardownMs: r.t1 - last,
      engineMs,
      betweenMs: last - first - engineMs,
      engineCalls: ends.length,
      zfs: counts?.counts?.['zfs'] ?? null,
      mount: counts?.counts?.['mount'] ?? null,
      umount: counts?.counts?.['umount'] ?? null,
      oneInstant: new Set(newest).size === 1,
    };
  };

  const warm = await measure(3, 0);
  b.say(`repos: unmeasured first run to 3 repositories: ok ${warm.ok}, ${warm.totalMs} ms`);
  // Alternated, so that a change in the host's load falls on both.
  for (let i = 1; i <= b.runs; i++) {
    for (const n of [1, 3]) {
      const r = await measure(n, i);
      b.emit(r as unknown as Record<string, unknown>);
      b.say(`repos: ${n} repositories, run ${i}: total ${r.totalMs} ms, engine ${r.engineMs} ms (${r.engineCalls} calls), setup ${r.setupMs} ms, teardown ${r.teardownMs} ms, between ${r.betweenMs} ms, zfs ${r.zfs}, one instant ${r.oneInstant}`);
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

/** The markdown rows for the "repos" results among a flavour's BENCH-JSON lines; none without them. */
export function reposTable(lines: Record<string, unknown>[]): string[] {
  const rs = lines.filter((l) => l['type'] === 'repos') as unknown as ReposResult[];
  if (!rs.length) return [];
  const out = [
    `One job, ${rs[0]!.datasets} filesystems on one pool, backed up by restic to 1 and to 3 local repositories (bench/repos.ts; median of the runs; setup = process start to the first engine call, teardown = end of the last engine call to exit, between = time between the repositories' engine calls not spent in them):`,
    '',
    '| repositories | zfs processes | mount + umount processes | setup ms | teardown ms | setup + teardown ms | engine ms (calls) | between ms | total ms | one snapshot and time in every repository |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const byN = new Map<number, ReposResult[]>();
  for (const r of rs) byN.set(r.repos, [...(byN.get(r.repos) ?? []), r]);
  const st: Record<number, number> = {};
  for (const [n, xs] of [...byN].sort((a, b) => a[0] - b[0])) {
    const m = (f: (r: ReposResult) => number) => Math.round(median(xs.map(f)));
    const last = xs[xs.length - 1]!;
    st[n] = m((r) => r.setupMs + r.teardownMs);
    out.push(
      `| ${n}${xs.length > 1 ? ` (median of ${xs.length})` : ''} | ${last.zfs ?? '—'} | ${(last.mount ?? 0) + (last.umount ?? 0)} | ${m((r) => r.setupMs)} | ${m((r) => r.teardownMs)} | ${st[n]} | ${m((r) => r.engineMs)} (${last.engineCalls}) | ${m((r) => r.betweenMs)} | ${m((r) => r.totalMs)} | ${xs.every((r) => r.ok && r.oneInstant) ? '✓' : '✗'} |`,
    );
  }
  if (st[1] && st[3]) out.push('', `Setup + teardown with 3 repositories ÷ with 1: ${(st[3] / st[1]).toFixed(2)} (goal: about 1, not 3).`);
  out.push('');
  return out;
}
