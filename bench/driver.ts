// The benchmark's guest-side driver (run by bench/guest.sh inside the zfsvm
// guest, as root, with real OpenZFS). For each case it creates the pools, runs
// the baseline (bench/baseline.sh) and kopiatomic with the recorder as backup
// command, and prints one `BENCH-JSON {...}` line per result on stdout, which
// bench/run.sh collects from the guest console and bench/report.ts renders.
//
// Env: BENCH_CASES        cases to run (default "n10 n100 n100x2 n1000 n100f repos")
//      BENCH_RUNS         runs per tool and case, the median is reported (default 1)
//      BENCH_BASELINE_MAX largest N the baseline runs at (default 1000: every case)
//      BENCH_PROFILE_N    N of the case whose kopiatomic runs under node --cpu-prof (default 1000; 0: none)
//      BENCH_COMPARE      a directory inside the checkout holding another tree's dist/app: that
//                         kopiatomic runs too, in turn with this one after each baseline run
//                         (tool "kopiatomic-compare"; the report leaves it out), so two trees are
//                         compared in one boot, where the guest's speed is the same
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summariseProfile, type Marks } from './profile.js';
import { reposCase } from './repos.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// kopiatomic as installed: copied to the guest's own disk first, since the
// checkout is a 9p share and every module read would cross to the host.
const APP = '/usr/local/lib/kopiatomic';
const KOPIATOMIC = join(APP, 'dist/app/bin/kopiatomic.js');
const COMPARE_APP = '/usr/local/lib/kopiatomic-compare';
const BASELINE = join(ROOT, 'bench/baseline.sh');
const RECORDER = join(ROOT, 'bench/recorder.sh');
const MKPOOL = join(ROOT, 'bench/mkpool.sh');
const SCRATCH = '/tmp/kopiatomic-bench';
const MOUNT_ROOT = '/kopia';
/** Says the journals are a complete record of our snapshots (src/safety/journal.ts): without it a run scans every pool. */
const RECORD_MARKER = '/var/lib/kopiatomic/record-complete';

interface PoolSpec {
  name: string;
  disk: string;
  datasets: number;
}
interface CaseSpec {
  id: string;
  label: string;
  pools: PoolSpec[];
  /** Other tools' snapshots (sanoid-style names) made on the first pool before the runs. */
  foreign?: number;
}

const CASES: Record<string, CaseSpec> = {
  n10: { id: 'n10', label: 'N=10, 1 pool', pools: [{ name: 'bench', disk: '/dev/vdb', datasets: 10 }] },
  n100: { id: 'n100', label: 'N=100, 1 pool', pools: [{ name: 'bench', disk: '/dev/vdb', datasets: 100 }] },
  n100x2: {
    id: 'n100x2',
    label: 'N=100, 2 pools',
    pools: [
      { name: 'bencha', disk: '/dev/vdb', datasets: 50 },
      { name: 'benchb', disk: '/dev/vdc', datasets: 50 },
    ],
  },
  n1000: { id: 'n1000', label: 'N=1000, 1 pool', pools: [{ name: 'bench', disk: '/dev/vdb', datasets: 1000 }] },
  n100f: { id: 'n100f', label: 'N=100 + 20,000 foreign snapshots, 1 pool', pools: [{ name: 'bench', disk: '/dev/vdb', datasets: 100 }], foreign: 20000 },
  // One job to 1 and to 3 restic repositories (bench/repos.ts).
  repos: { id: 'repos', label: 'N=100, 1 pool, 1 and 3 restic repositories', pools: [{ name: 'bench', disk: '/dev/vdb', datasets: 100 }] },
};

/**
 * Other tools' snapshots: `zfs snapshot -r` of the pool root makes one per
 * dataset in one call (one transaction), so 200 calls make 20,000 over 100.
 */
function makeForeign(c: CaseSpec): void {
  const p = c.pools[0]!;
  const per = Math.ceil(c.foreign! / p.datasets);
  const names = Array.from({ length: per }, (_, i) => {
    const d = new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toISOString().slice(0, 19).replace('T', '_');
    return `${p.name}@autosnap_${d}_hourly`;
  });
  const t0 = now();
  // One name per call: zfs refuses two snapshots of one dataset in one call.
  for (const n of names) sh('zfs snapshot -r "$1"', n);
  const total = Number(sh('zfs list -H -t snapshot -o name -r "$1" | wc -l', p.name).trim());
  const ms = now() - t0;
  say(`made ${total} foreign snapshots (${per} per dataset) in ${ms} ms`);
  emit({ type: 'foreign', case: c.id, snapshots: total, perDataset: per, ms });
}

const env = process.env;
const caseIds = (env['BENCH_CASES'] ?? 'n10 n100 n100x2 n1000 n100f repos').split(/\s+/).filter(Boolean);
const RUNS = Math.max(1, Number(env['BENCH_RUNS'] ?? '1') || 1);
const BASELINE_MAX = Number(env['BENCH_BASELINE_MAX'] ?? '1000');
const PROFILE_N = Number(env['BENCH_PROFILE_N'] ?? '1000');

function emit(o: Record<string, unknown>): void {
  process.stdout.write('BENCH-JSON ' + JSON.stringify(o) + '\n');
}
function say(s: string): void {
  process.stdout.write(`bench: ${s}\n`);
}
function sh(script: string, ...args: string[]): string {
  return execFileSync('bash', ['-c', script, 'bench', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
}
const now = () => Date.now();

/** How much of the time line the spans cover (overlaps once). */
function covered(spans: [number, number][]): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...spans].sort((p, q) => p[0] - q[0])) {
    total += Math.max(0, b - Math.max(a, end));
    end = Math.max(end, b);
  }
  return total;
}

/** Mounts at or below a path, from /proc/self/mountinfo. */
function mountsUnder(dir: string): number {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => {
      const t = l.split(' ')[4];
      return t !== undefined && (t === dir || t.startsWith(dir + '/'));
    }).length;
}

function createPools(c: CaseSpec): void {
  for (const p of c.pools) {
    const t0 = now();
    const how = execFileSync('bash', [MKPOOL, p.name, p.disk, String(p.datasets)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const mounted = mountsUnder('/' + p.name);
    const ms = now() - t0;
    say(`created pool ${p.name} with ${p.datasets} filesystems in ${ms} ms (${how === '-u' ? 'zfs create -u, then zfs mount -a' : 'zfs create mounts each'}); ${mounted} mounted`);
    if (mounted !== p.datasets) throw new Error(`pool ${p.name}: ${mounted} filesystems mounted, expected ${p.datasets}`);
    emit({ type: 'create', case: c.id, pool: p.name, datasets: p.datasets, ms, unmountedCreate: how === '-u' });
  }
}

function destroyPools(c: CaseSpec): void {
  const t0 = now();
  for (const p of c.pools) sh('zpool destroy -f "$1"', p.name);
  say(`destroyed the pools of ${c.id} in ${now() - t0} ms`);
}

interface Record_ {
  txg: Record<string, string[]>;
  snapshots: number;
  mounts: number;
}

function readRecord(path: string): Record_ {
  const r: Record_ = { txg: {}, snapshots: 0, mounts: 0 };
  if (!existsSync(path)) return r;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'txg') (r.txg[f[1]!] ??= []).push(f[2]!);
    if (f[0] === 'snapshots') r.snapshots = Number(f[1]);
    if (f[0] === 'mounts') r.mounts = Number(f[1]);
  }
  return r;
}

function run(argv: string[], extraEnv: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; t0: number; t1: number }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const t1 = now();
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), t0, t1 });
    });
  });
}

let seq = 0;

interface ExecEvent {
  event: 'exec';
  time: string;
  argv: string[];
  ms: number;
}

async function runKopiatomic(c: CaseSpec, runNo: number, kind: 'measured' | 'first-after-boot' | 'first-on-host', profileDir: string | null, compare = false): Promise<Record<string, unknown>> {
  const rec = `${SCRATCH}/rec-${++seq}`;
  const node = profileDir ? [process.execPath, '--cpu-prof', '--cpu-prof-dir', profileDir] : [process.execPath];
  const r = await run([...node, compare ? join(COMPARE_APP, 'dist/app/bin/kopiatomic.js') : KOPIATOMIC, '-a', '--json', '--engine', 'command', '-c', `bash ${RECORDER}`], {
    KOPIATOMIC_COUNT_PROCESSES: '1',
    BENCH_RECORD: rec,
  });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string; time: string } & Record<string, unknown>);
  const find = (name: string) => events.find((e) => e.event === name);
  const start = find('backup-start');
  const end = find('backup-end');
  const recovery = find('recovery') as { ms?: number; scan?: string } | undefined;
  const counts = find('process-counts') as { counts: Record<string, number>; maxRssKiB: number } | undefined;
  const summary = find('summary') as { status?: string; createtxg?: Record<string, string[]> } | undefined;
  const ok = r.code === 0 && summary?.status === 'ok' && Boolean(start && end);
  if (!ok) {
    say(`kopiatomic failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    for (const e of events.filter((e) => e.event === 'log' || e.event === 'summary').slice(-10)) say(JSON.stringify(e));
  }
  const tStart = start ? Date.parse(start.time) : NaN;
  const tEnd = end ? Date.parse(end.time) : NaN;
  // Where the time goes: external commands (each exec event carries its
  // duration and is emitted when it ends; some run side by side), node's
  // start-up (spawn to the start of the first command), and the rest: ours.
  const execs = events.filter((e): e is typeof e & ExecEvent => e.event === 'exec');
  const prog = (e: ExecEvent) => e.argv[0]!.split('/').pop()!;
  const carried = (e: ExecEvent) => (prog(e) === 'perl' ? (String(e.argv[3] ?? '').includes('"mount2: ') ? 'mount' : 'umount') : prog(e));
  // Our commands (not the recorder, which is the backup), each with its span: the end is the event's time.
  const commands = execs
    .filter((e) => !(e.argv.includes('bash') && e.argv.some((a) => a.endsWith('recorder.sh'))))
    .map((e) => ({ e, end: Date.parse(e.time) }));
  const within = (from: number, to: number) => commands.filter((c) => c.end >= from && c.end <= to);
  // Per program: how many, their durations summed, and the wall time they
  // covered (less than the sum when they ran side by side: the two umounts).
  const sums = (from: number, to: number) => {
    const s: Record<string, { n: number; ms: number; spans: [number, number][] }> = {};
    for (const { e, end } of within(from, to)) {
      // zfs by subcommand (zfs list, zfs snapshot, ...), the rest by program.
      const k = prog(e) === 'zfs' ? `zfs ${e.argv[1]}` : prog(e);
      const x = (s[k] ??= { n: 0, ms: 0, spans: [] });
      x.n++;
      x.ms += e.ms;
      x.spans.push([end - e.ms, end]);
    }
    return Object.fromEntries(Object.entries(s).map(([k, { n, ms, spans }]) => [k, { n, ms, wall: covered(spans) }]));
  };
  // The time at least one command was running (the hold beside the mounts, the release beside the umounts count once).
  const anyCommand = (from: number, to: number) => covered(within(from, to).map(({ e, end }) => [end - e.ms, end]));
  // The command that started first (events come when a command ends, and
  // discovery's `zpool list` and `zfs list` run side by side).
  const first = execs.reduce<ExecEvent | undefined>((a, e) => (!a || Date.parse(e.time) - e.ms < Date.parse(a.time) - a.ms ? e : a), undefined);
  // The recovery scan: the listing of every snapshot (first run after boot only).
  const scan = execs.find((e) => prog(e) === 'zfs' && e.argv.includes('snapshot') && e.argv.some((a) => a.includes('kopiatomic:run')));
  const startupMs = first ? Date.parse(first.time) - first.ms - r.t0 : null;
  const rec_ = readRecord(rec);
  const result = {
    type: 'run',
    tool: compare ? 'kopiatomic-compare' : 'kopiatomic',
    kind,
    case: c.id,
    run: runNo,
    ok,
    exitCode: r.code,
    pools: c.pools.length,
    datasets: c.pools.reduce((a, p) => a + p.datasets, 0),
    txg: rec_.txg,
    summaryTxg: summary?.createtxg ?? null,
    snapshots: rec_.snapshots,
    mountsSeen: rec_.mounts,
    zfs: counts?.counts['zfs'] ?? null,
    // mount and unmount processes, whatever carries them (on Linux perl calls
    // mount(2) for a level and umount2 for a batch; its one-liner names itself)
    mount: counts ? execs.filter((e) => carried(e) === 'mount').length : null,
    umount: counts ? execs.filter((e) => carried(e) === 'umount').length : null,
    counts: counts?.counts ?? null,
    rssKiB: counts?.maxRssKiB ?? null,
    setupMs: tStart - r.t0,
    backupMs: tEnd - tStart,
    teardownMs: r.t1 - tEnd,
    totalMs: r.t1 - r.t0,
    startupMs,
    scanMs: scan ? scan.ms : null,
    recoveryMs: recovery?.ms ?? null,
    recoveryScan: recovery?.scan ?? null,
    setupExec: sums(r.t0, tStart),
    teardownExec: sums(tEnd, r.t1),
    setupCommandsMs: anyCommand(r.t0, tStart),
    teardownCommandsMs: anyCommand(tEnd, r.t1),
    profiled: Boolean(profileDir),
    marks: { exit: r.t1, firstCommand: first ? Date.parse(first.time) - first.ms : tStart, backupStart: tStart, backupEnd: tEnd },
  };
  rmSync(rec, { force: true });
  return result;
}

async function runBaseline(c: CaseSpec, runNo: number): Promise<Record<string, unknown>> {
  const id = ++seq;
  const rec = `${SCRATCH}/rec-${id}`;
  const countsFile = `${SCRATCH}/counts-${id}`;
  const timesFile = `${SCRATCH}/times-${id}`;
  const r = await run(['bash', BASELINE, '-a'], {
    BASELINE_COMMAND: `bash ${RECORDER}`,
    BASELINE_ROOT: MOUNT_ROOT,
    BASELINE_COUNTS: countsFile,
    BASELINE_TIMES: timesFile,
    BENCH_RECORD: rec,
  });
  const counts: Record<string, number> = {};
  if (existsSync(countsFile)) for (const l of readFileSync(countsFile, 'utf8').split('\n')) if (l) counts[l] = (counts[l] ?? 0) + 1;
  const times: Record<string, number> = {};
  if (existsSync(timesFile)) {
    for (const l of readFileSync(timesFile, 'utf8').split('\n')) {
      const [k, v] = l.split(' ');
      if (k && v) times[k] = Number(v) * 1000;
    }
  }
  const rec_ = readRecord(rec);
  const left = mountsUnder(MOUNT_ROOT);
  const ok = r.code === 0 && times['backup-start'] !== undefined && left === 0;
  if (!ok) say(`baseline failed (exit ${r.code}, ${left} mounts left): ${r.stderr.slice(-2000)}`);
  const tStart = times['backup-start']!;
  const tEnd = times['backup-end']!;
  for (const f of [rec, countsFile, timesFile]) rmSync(f, { force: true });
  return {
    type: 'run',
    tool: 'baseline',
    kind: 'measured',
    case: c.id,
    run: runNo,
    ok,
    exitCode: r.code,
    pools: c.pools.length,
    datasets: c.pools.reduce((a, p) => a + p.datasets, 0),
    txg: rec_.txg,
    snapshots: rec_.snapshots,
    mountsSeen: rec_.mounts,
    zfs: counts['zfs'] ?? 0,
    mount: counts['mount'] ?? 0,
    umount: counts['umount'] ?? 0,
    counts,
    rssKiB: null,
    setupMs: Math.round(tStart - r.t0),
    backupMs: Math.round(tEnd - tStart),
    teardownMs: Math.round(r.t1 - tEnd),
    totalMs: r.t1 - r.t0,
    stderrTail: r.stderr.slice(-500),
  };
}

function leftovers(): string {
  const snaps = sh('zfs list -H -t snapshot -o name | wc -l').trim();
  return `${snaps} snapshots, ${mountsUnder(MOUNT_ROOT)} mounts under ${MOUNT_ROOT}, ${existsSync(MOUNT_ROOT) ? MOUNT_ROOT + ' exists' : MOUNT_ROOT + ' absent'}`;
}

// See bench/mountprobe.sh.
function mountProbe(c: CaseSpec): void {
  const p = c.pools[0]!;
  try {
    const [k, t0, t1, t2, t3, t4, direct] = execFileSync('bash', [join(ROOT, 'bench/mountprobe.sh'), p.name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split(' ');
    const ms = (a: string, b: string) => Math.round(((Number(b) - Number(a)) * 1000) / Number(k));
    const r = { type: 'mountprobe', case: c.id, mounts: Number(k), helperMountMs: ms(t0!, t1!), umountMs: ms(t1!, t2!), directMountMs: ms(t2!, t3!), directUmountMs: ms(t3!, t4!), direct };
    emit(r);
    say(`mount probe: ${JSON.stringify(r)}`);
  } catch (e) {
    say(`mount probe failed: ${(e as Error).message}`);
  }
}

async function main(): Promise<void> {
  mkdirSync(SCRATCH, { recursive: true });
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  execFileSync('cp', ['-r', join(ROOT, 'dist'), join(ROOT, 'node_modules'), join(ROOT, 'package.json'), APP]);
  const compare = env['BENCH_COMPARE'];
  if (compare) {
    rmSync(COMPARE_APP, { recursive: true, force: true });
    mkdirSync(join(COMPARE_APP, 'dist'), { recursive: true });
    execFileSync('cp', ['-r', join(ROOT, compare, 'dist/app'), join(COMPARE_APP, 'dist')]);
  }
  let firstRun = true;
  for (const id of caseIds) {
    const c = CASES[id];
    if (!c) throw new Error(`unknown case ${id}: use ${Object.keys(CASES).join(' ')}`);
    const n = c.pools.reduce((a, p) => a + p.datasets, 0);
    say(`case ${c.label}`);
    createPools(c);
    if (id === 'repos') {
      // Its own runs (restic, a configuration file); its first run is unmeasured, as a first run on the host would be.
      firstRun = false;
      await reposCase({ kopiatomic: KOPIATOMIC, scratch: SCRATCH, runs: RUNS, dataset: c.pools[0]!.name, emit, say }, id, n);
      if (id !== caseIds[caseIds.length - 1]) destroyPools(c);
      continue;
    }
    if (c.foreign) {
      makeForeign(c);
      // A host's first run (no record yet: every pool is scanned, as
      // `cleanup` always does), then the first run after a boot (/run is
      // empty; the journals on disk are the record), with the foreign
      // snapshots in place.
      rmSync(RECORD_MARKER, { force: true });
      firstRun = false;
      const f = await runKopiatomic(c, 0, 'first-on-host', null);
      emit(f);
      say(`first run on the host with ${c.foreign} foreign snapshots: recovery ${String(f['recoveryMs'])} ms, setup ${String(f['setupMs'])} ms, ok ${String(f['ok'])}`);
      rmSync('/run/kopiatomic', { recursive: true, force: true });
      const r = await runKopiatomic(c, 0, 'first-after-boot', null);
      emit(r);
      say(`first run after boot with ${c.foreign} foreign snapshots: recovery ${String(r['recoveryMs'])} ms, setup ${String(r['setupMs'])} ms, ok ${String(r['ok'])}`);
    }
    if (firstRun) {
      // kopiatomic's first run on a host scans every pool for snapshots a
      // crashed run left: measured apart, so the table shows the usual run.
      firstRun = false;
      const r = await runKopiatomic(c, 0, 'first-on-host', null);
      emit(r);
      say(`first run on the host: zfs ${String(r['zfs'])}, ok ${String(r['ok'])}; left: ${leftovers()}`);
    }
    for (let i = 1; i <= RUNS; i++) {
      if (n <= BASELINE_MAX) {
        const b = await runBaseline(c, i);
        emit(b);
        say(`baseline run ${i}: setup ${String(b['setupMs'])} ms, teardown ${String(b['teardownMs'])} ms, zfs ${String(b['zfs'])}; left: ${leftovers()}`);
      }
      const profileDir = PROFILE_N > 0 && n === PROFILE_N && i === RUNS ? `${SCRATCH}/prof-${id}` : null;
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
      // With a tree to compare, the two take turns going first.
      const other = async () => {
        const o = await runKopiatomic(c, i, 'measured', null, true);
        emit(o);
        say(`compared tree run ${i}: setup ${String(o['setupMs'])} ms, teardown ${String(o['teardownMs'])} ms, zfs ${String(o['zfs'])}; left: ${leftovers()}`);
      };
      if (compare && i % 2 === 0) await other();
      const k = await runKopiatomic(c, i, 'measured', profileDir);
      emit(k);
      say(`kopiatomic run ${i}: setup ${String(k['setupMs'])} ms, teardown ${String(k['teardownMs'])} ms, zfs ${String(k['zfs'])}; left: ${leftovers()}`);
      if (compare && i % 2 === 1) await other();
      if (profileDir) {
        const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
        if (files.length) {
          const m = k['marks'] as Marks;
          const p = summariseProfile(readFileSync(join(profileDir, files[0]!), 'utf8'), m);
          emit({ type: 'profile', case: id, ...p, run: k });
        }
      }
    }
    if (id === (caseIds.includes('n100') ? 'n100' : caseIds[0])) mountProbe(c);
    if (id !== caseIds[caseIds.length - 1]) destroyPools(c);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    say(`failed: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
