// Renders the benchmark's results (one .jsonl file per OpenZFS flavour, the
// BENCH-JSON lines of bench/driver.ts) as tables on stdout and, with
// --results FILE, as bench/RESULTS.md.
//
//   node dist/bench/report.js [--results bench/RESULTS.md] [--note TEXT] stable.jsonl backports.jsonl
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename } from 'node:path';
import { reposTable } from './repos.js';

type Obj = Record<string, unknown>;
interface Run extends Obj {
  tool: 'kopiatomic' | 'baseline';
  kind: string;
  case: string;
  ok: boolean;
  pools: number;
  datasets: number;
  txg: Record<string, string[]>;
  snapshots: number;
  mountsSeen: number;
  zfs: number | null;
  mount: number | null;
  umount: number | null;
  rssKiB: number | null;
  setupMs: number;
  teardownMs: number;
  backupMs: number;
  startupMs?: number | null;
  setupExec?: Record<string, { n: number; ms: number; wall?: number }>;
  teardownExec?: Record<string, { n: number; ms: number; wall?: number }>;
  /** The time at least one command ran (side by side ones once). */
  setupCommandsMs?: number;
  teardownCommandsMs?: number;
  profiled?: boolean;
}
interface Profile extends Obj {
  case: string;
  wallMs: number;
  phasesMs?: Record<string, Record<string, number>>;
  categoriesMs: Record<string, number>;
  ourSelf: { fn: string; ms: number }[];
  ourInclusive: { fn: string; ms: number }[];
  nodeSelf: { fn: string; ms: number }[];
}

const CASE_ORDER = ['n10', 'n100', 'n100x2', 'n1000', 'n100f'];
const LABEL: Record<string, string> = {
  n10: 'N=10, 1 pool',
  n100: 'N=100, 1 pool',
  n100x2: 'N=100, 2 pools',
  n1000: 'N=1000, 1 pool',
  n100f: 'N=100 + 20,000 foreign snapshots, 1 pool',
};
/** Depth levels of the bench's tree: the pool root, POOL/home, the users (bench/mkpool.sh). */
const LEVELS = 3;

const args = process.argv.slice(2);
let resultsPath: string | null = null;
const notes: string[] = [];
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--results') resultsPath = args[++i]!;
  else if (args[i] === '--note') notes.push(args[++i]!);
  else files.push(args[i]!);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const ratio = (k: number | null, b: number | null) => (k === null || b === null || !b ? '' : ` (${fmtRatio(k / b)})`);
function fmtRatio(r: number): string {
  return r >= 0.1 ? r.toFixed(2) : r >= 0.01 ? r.toFixed(3) : r.toFixed(4);
}
const fmt = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : String(Math.round(x)));
const txgCell = (r: Run | undefined) =>
  r ? Object.keys(r.txg).sort().map((p) => String(r.txg[p]!.length)).join(' + ') || '0' : '—';

function table(lines: Obj[]): string[] {
  const runs = lines.filter((l) => l['type'] === 'run') as Run[];
  const out: string[] = [];
  out.push('| case | distinct createtxg per pool, k / b | zfs processes, k / b | mount + umount processes, k / b | setup ms, k / b | teardown ms, k / b | setup + teardown, k / b | kopiatomic peak RSS | goals |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const c of CASE_ORDER) {
    const ks = runs.filter((r) => r.case === c && r.tool === 'kopiatomic' && r.kind === 'measured');
    const bs = runs.filter((r) => r.case === c && r.tool === 'baseline');
    if (!ks.length && !bs.length) continue;
    const k = ks[ks.length - 1];
    const b = bs[bs.length - 1];
    const pools = (k ?? b)!.pools;
    const n = (k ?? b)!.datasets;
    const kS = ks.length ? median(ks.map((r) => r.setupMs)) : null;
    const kT = ks.length ? median(ks.map((r) => r.teardownMs)) : null;
    const bS = bs.length ? median(bs.map((r) => r.setupMs)) : null;
    const bT = bs.length ? median(bs.map((r) => r.teardownMs)) : null;
    const kM = k ? (k.mount ?? 0) + (k.umount ?? 0) : null;
    const bM = b ? b.mount! + b.umount! : null;
    const kST = kS !== null && kT !== null ? kS + kT : null;
    const bST = bS !== null && bT !== null ? bS + bT : null;
    const rss = ks.length ? median(ks.map((r) => r.rssKiB ?? NaN)) / 1024 : null;
    const goals: string[] = [];
    if (k) {
      const oneTxg = Object.values(k.txg).every((t) => t.length === 1) && Object.keys(k.txg).length === pools;
      goals.push(oneTxg ? '1 txg/pool ✓' : `1 txg/pool ✗ (${txgCell(k)})`);
      // Per pool: the snapshot, the identity read (a channel program works on one pool) and the
      // destroy program; once: discovery, the hold, the release and the check. 7 for one pool.
      const limit = 3 * pools + 4;
      goals.push((k.zfs ?? Infinity) <= limit ? `zfs ≤ ${limit} ✓ (${fmt(k.zfs)})` : `zfs ≤ ${limit} ✗ (${fmt(k.zfs)})`);
      goals.push((k.mount ?? Infinity) <= LEVELS ? `mount ≤ ${LEVELS} levels ✓ (${fmt(k.mount)})` : `mount ≤ ${LEVELS} levels ✗ (${fmt(k.mount)})`);
      goals.push((k.umount ?? Infinity) <= 2 ? `umount ≤ 2 ✓ (${fmt(k.umount)})` : `umount ≤ 2 ✗ (${fmt(k.umount)})`);
      if (c === 'n100' || c === 'n100x2' || c === 'n100f') {
        goals.push(kST !== null && bST !== null ? (kST <= bST / 10 ? `setup+teardown ≤ 1/10 ✓ (${fmtRatio(kST / bST)})` : `setup+teardown ≤ 1/10 ✗ (${fmtRatio(kST / bST)})`) : 'setup+teardown ≤ 1/10: no baseline');
      }
      if (c === 'n1000') {
        goals.push(ks.every((r) => r.ok) ? 'completes ✓' : 'completes ✗');
        goals.push(kST !== null && kST < 60_000 ? `setup+teardown < 60 s ✓` : `setup+teardown < 60 s ✗`);
        goals.push(rss !== null && rss < 100 ? 'RSS < 100 MiB ✓' : 'RSS < 100 MiB ✗');
      }
      if (!ks.every((r) => r.ok)) goals.push('kopiatomic run FAILED');
      if (k.mountsSeen !== n) goals.push(`recorder saw ${k.mountsSeen} mounts, expected ${n}`);
    }
    if (b && !bs.every((r) => r.ok)) goals.push('baseline run FAILED');
    if (!b) goals.push('baseline not run at this N (BENCH_BASELINE_MAX)');
    out.push(
      `| ${LABEL[c] ?? c}${ks.length > 1 ? ` (median of ${ks.length})` : ''} | ${txgCell(k)} / ${txgCell(b)} | ${fmt(k?.zfs)} / ${fmt(b?.zfs)}${ratio(k?.zfs ?? null, b?.zfs ?? null)} | ${fmt(kM)} / ${fmt(bM)}${ratio(kM, bM)} | ${fmt(kS)} / ${fmt(bS)}${ratio(kS, bS)} | ${fmt(kT)} / ${fmt(bT)}${ratio(kT, bT)} | ${fmt(kST)} / ${fmt(bST)}${ratio(kST, bST)} | ${rss === null ? '—' : rss.toFixed(0) + ' MiB'} | ${goals.join('; ')} |`,
    );
  }
  return out;
}

/** Per program: count, durations summed, and (newer results) the wall time they covered. */
type Sums = Record<string, { n: number; ms: number; wall?: number }>;
/** Adds v into out[k]; walls add up (the commands merged ran one at a time). */
function addTo(out: Sums, k: string, v: Sums[string]): void {
  const o = (out[k] ??= { n: 0, ms: 0, wall: 0 });
  o.n += v.n;
  o.ms += v.ms;
  o.wall = (o.wall ?? 0) + (v.wall ?? v.ms);
}

/** Newer results split zfs by subcommand ("zfs snapshot"): sum them up again. */
function byProgram(m: Sums): Sums {
  const out: Sums = {};
  for (const [k, v] of Object.entries(m)) addTo(out, k.split(' ')[0]!, v);
  return out;
}

function zfsDetail(lines: Obj[]): string[] {
  const runs = (lines.filter((l) => l['type'] === 'run') as Run[]).filter((r) => r.tool === 'kopiatomic' && r.kind === 'measured');
  const rows = runs
    .map((r) => {
      // Setup and teardown both list snapshots: add them up, not one over the other.
      const all: Sums = {};
      for (const m of [r.setupExec ?? {}, r.teardownExec ?? {}]) for (const [k, v] of Object.entries(m)) addTo(all, k, v);
      const z = Object.entries(all).filter(([k]) => k.startsWith('zfs '));
      return z.length ? `${LABEL[r.case] ?? r.case}: ${z.map(([k, v]) => `${k} ${v.ms} ms${v.n > 1 ? ` (${v.n})` : ''}`).join(', ')}` : '';
    })
    .filter(Boolean);
  return rows.length ? ['kopiatomic\'s zfs commands: ' + rows.join('; ') + '.', ''] : [];
}

function breakdown(lines: Obj[]): string[] {
  const runs = (lines.filter((l) => l['type'] === 'run') as Run[]).filter((r) => r.tool === 'kopiatomic');
  const out: string[] = [];
  out.push('| run | setup ms | node start-up | zfs (n) | mount (n) | rest: our code, spawning | teardown ms | unmount (n) | zfs (n) | rest |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of runs) {
    const s = byProgram(r.setupExec ?? {});
    const t = byProgram(r.teardownExec ?? {});
    // Wall time: processes that ran side by side (the two umounts; the hold beside the mounts, the release beside the umounts) count once.
    const sum = (m: Sums) => Object.values(m).reduce((a, x) => a + (x.wall ?? x.ms), 0);
    const ms = (x: Sums[string]) => (x.wall !== undefined && x.wall < x.ms ? `${x.wall} wall, ${x.ms} summed` : `${x.ms}`);
    const cell = (m: Sums, p: string) => (m[p] ? `${ms(m[p]!)} (${m[p]!.n})` : '0');
    const others = (m: Sums, skip: string[]) =>
      Object.entries(m).filter(([p]) => !skip.includes(p)).map(([p, v]) => ` + ${p} ${ms(v)} (${v.n})`).join('');
    const startup = r.startupMs ?? 0;
    // the batches' program: mount and umount, or on Linux perl calling mount(2) and umount2
    const un = t['perl'] ? 'perl' : 'umount';
    const mo = s['perl'] ? 'perl' : 'mount';
    out.push(
      `| ${LABEL[r.case] ?? r.case}${r.kind === 'first-after-boot' ? ', first run after boot' : r.kind === 'first-on-host' ? ', first run on the host (every pool scanned)' : ''}${r.profiled ? ', under --cpu-prof' : ''} | ${fmt(r.setupMs)} | ${fmt(startup)} | ${cell(s, 'zfs')} | ${mo === 'perl' ? 'perl ' : ''}${cell(s, mo)}${others(s, ['zfs', mo])} | ${fmt(r.setupMs - startup - (r.setupCommandsMs ?? sum(s)))} | ${fmt(r.teardownMs)} | ${un === 'perl' ? 'perl ' : ''}${cell(t, un)} | ${cell(t, 'zfs')}${others(t, ['zfs', un])} | ${fmt(r.teardownMs - (r.teardownCommandsMs ?? sum(t)))} |`,
    );
  }
  return out;
}

function profileSection(lines: Obj[]): string[] {
  const out: string[] = [];
  for (const p of lines.filter((l) => l['type'] === 'profile') as Profile[]) {
    out.push(`CPU profile of kopiatomic at ${LABEL[p.case] ?? p.case} (node --cpu-prof, whole run, ${p.wallMs} ms):`);
    out.push('');
    const total = Object.values(p.categoriesMs).reduce((a, b) => a + b, 0);
    for (const [k, v] of Object.entries(p.categoriesMs).sort((a, b) => b[1] - a[1])) out.push(`- ${k}: ${v} ms (${((100 * v) / total).toFixed(1)}%)`);
    out.push('');
    if (p.phasesMs) {
      const cats = Object.keys(p.categoriesMs);
      out.push(`| phase | ${cats.join(' | ')} |`);
      out.push(`|---|${cats.map(() => '---|').join('')}`);
      for (const ph of ['start-up (to the first command)', 'rest of setup', 'backup', 'teardown']) {
        const row = p.phasesMs[ph];
        if (row) out.push(`| ${ph} | ${cats.map((c) => String(row[c] ?? 0)).join(' | ')} |`);
      }
      out.push('');
    }
    out.push('Our code, inclusive time (top): ' + p.ourInclusive.slice(0, 10).map((f) => `\`${f.fn}\` ${f.ms} ms`).join('; '));
    out.push('');
    out.push('Our code, self time (top): ' + p.ourSelf.slice(0, 8).map((f) => `\`${f.fn}\` ${f.ms} ms`).join('; '));
    out.push('');
    out.push('node internals, self time (top): ' + p.nodeSelf.slice(0, 6).map((f) => `\`${f.fn}\` ${f.ms} ms`).join('; '));
    out.push('');
  }
  return out;
}

const doc: string[] = [];
const now = new Date();
doc.push('# Benchmark results');
doc.push('');
doc.push(`Date: ${now.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}. Command: \`npm run bench\` (bench/run.sh).`);
doc.push('');
doc.push(
  `Host: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM. ` +
    'Guests: QEMU with TCG (software emulation, no KVM), so every process start, mount and txg sync is much slower than on real hardware; ' +
    'ratios are more meaningful than absolute times. Timings vary with the host\'s load; the ratios compare runs made one after the other in the same guest.',
);
doc.push('');
doc.push(
  'Legend: **k** = kopiatomic, **b** = baseline (the original script\'s per-dataset algorithm, bench/baseline.sh); the ratio in brackets is k ÷ b. ' +
    'Setup = process start to the start of the backup command; teardown = end of the backup command to process exit. ' +
    'The backup command is bench/recorder.sh, which only records the createtxg of the run\'s snapshots and the mounts under the tree root. ' +
    'Counts are processes started by the tool itself (the recorder\'s own `zfs list` is not counted). N counts every filesystem backed up (pool root, POOL/home and N-2 users).',
);
doc.push('');
for (const f of files) {
  const lines = readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Obj);
  const e = lines.find((l) => l['type'] === 'env') as Obj | undefined;
  const flavour = basename(f).replace(/\.jsonl$/, '');
  doc.push(`## ${flavour}: ${e ? String(e['zfs']).trim() : 'unknown OpenZFS'}`);
  doc.push('');
  if (e) doc.push(`Guest: kernel ${String(e['kernel'])}, ${String(e['nproc'])} vCPUs (TCG), ${String(e['memMiB'])} MiB, node ${String(e['node'])} (\`node -e 0\` takes ${(e['nodeStartMs'] as number[]).join(' / ')} ms).`);
  doc.push('');
  doc.push(...table(lines));
  doc.push('');
  doc.push(...reposTable(lines));
  const foreign = lines.find((l) => l['type'] === 'foreign');
  if (foreign) {
    doc.push(
      `With ${String(foreign['snapshots'])} foreign snapshots on the pool (${String(foreign['perDataset'])} per dataset, sanoid-style names; made in ${(Number(foreign['ms']) / 1000).toFixed(0)} s):`,
    );
    doc.push('');
    const runsOf = (kind: string) => (lines.filter((l) => l['type'] === 'run') as Run[]).find((r) => r.kind === kind && r.case === 'n100f') as (Run & Obj) | undefined;
    const fr = runsOf('first-after-boot');
    if (fr) {
      const rec = fr['recoveryMs'] as number | null;
      doc.push(
        `First run after boot with them (N=100; /run empty, the journals on disk are the record): recovery ${fmt(rec)} ms (${String(fr['recoveryScan'])}, no listing of every snapshot) of setup ${fmt(fr.setupMs)} ms (${rec !== null ? ((100 * rec) / fr.setupMs).toFixed(1) : '?'}%; goal ≤ 10%: ${rec !== null && rec <= fr.setupMs / 10 ? '✓' : '✗'}), teardown ${fmt(fr.teardownMs)} ms, ${fmt(fr.zfs)} zfs processes.`,
      );
      doc.push('');
    }
    const fh = runsOf('first-on-host');
    if (fh) {
      const rec = fh['recoveryMs'] as number | null;
      doc.push(
        `A host's first run with them (no record yet: every pool scanned once, as \`cleanup\` always does): recovery ${fmt(rec)} ms of setup ${fmt(fh.setupMs)} ms, ${fmt(fh.zfs)} zfs processes.`,
      );
      doc.push('');
    }
  }
  const first = (lines.filter((l) => l['type'] === 'run') as Run[]).find((r) => r.kind === 'first-on-host' && r.case !== 'n100f');
  if (first) {
    doc.push(
      `First kopiatomic run on the host (${LABEL[first.case] ?? first.case}): ${fmt(first.zfs)} zfs processes (the extra one is the scan of every pool for our snapshots, done while the journals are not yet a complete record, and by \`cleanup\`), setup ${fmt(first.setupMs)} ms, teardown ${fmt(first.teardownMs)} ms.`,
    );
    doc.push('');
  }
  const creates = lines.filter((l) => l['type'] === 'create');
  if (creates.length) {
    doc.push('Pool creation (not measured as part of any run): ' + creates.map((c) => `${String(c['pool'])} ${String(c['datasets'])} filesystems in ${(Number(c['ms']) / 1000).toFixed(0)} s`).join('; ') + '.');
    doc.push('');
  }
  doc.push('Where kopiatomic\'s time goes (ms; from its `exec` events, which carry each command\'s duration; node start-up = process start to the start of its first command; commands that ran side by side (the hold and the creation-time listing beside the mounts, the release beside the unmounts, the two umounts) overlap, so the columns can add up to more than the phase; rest = the phase less start-up and the time any command was running: our code, spawning, event loop):');
  doc.push('');
  doc.push(...breakdown(lines));
  doc.push('');
  doc.push(...zfsDetail(lines));
  const probe = lines.find((l) => l['type'] === 'mountprobe');
  if (probe) {
    doc.push(
      `Mount probe (bench/mountprobe.sh, ${String(probe['mounts'])} snapshot mounts, ms each): \`mount -t zfs -o ro\` through mount.zfs ${String(probe['helperMountMs'])}, umount ${String(probe['umountMs'])}; \`mount -i\` (no helper, mount(2) directly) ${String(probe['directMountMs'])} (${String(probe['direct'])}), umount ${String(probe['directUmountMs'])}.`,
    );
    doc.push('');
  }
  doc.push(...profileSection(lines));
}
if (notes.length) {
  doc.push('## Notes');
  doc.push('');
  for (const n of notes) doc.push(`- ${n}`);
  doc.push('');
}
const text = doc.join('\n');
process.stdout.write(text + '\n');
if (resultsPath) writeFileSync(resultsPath, text);
