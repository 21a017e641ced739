// Summarises a V8 .cpuprofile (node --cpu-prof) of one kopiatomic run: where
// its own CPU time went. Self time is grouped into idle (waiting for child
// processes: zfs, mount, umount, the backup command), garbage collection, V8
// and node internals, and our code (dist/app/..., the bundle); plus the top functions of
// our code by self and by inclusive time, with file and line.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Wall-clock marks (ms since the epoch) of the profiled run, to split it into phases. */
export interface Marks {
  exit: number;
  firstCommand: number;
  backupStart: number;
  backupEnd: number;
}

export interface ProfileSummary {
  wallMs: number;
  /** Per phase (start-up, setup, backup, teardown): ms per category. */
  phasesMs: Record<string, Record<string, number>>;
  categoriesMs: Record<string, number>;
  ourSelf: { fn: string; ms: number }[];
  ourInclusive: { fn: string; ms: number }[];
  nodeSelf: { fn: string; ms: number }[];
}

function short(url: string): string {
  const i = url.indexOf('/dist/');
  return i >= 0 ? url.slice(i + 6) : url.replace(/^file:\/\//, '');
}

/** Our code: the bundle that runs (dist/app), or tsc's modules (dist/src) when run from there. */
const ours = (f: CallFrame) => f.url.includes('/dist/app/') || f.url.includes('/dist/src/');

function category(f: CallFrame): string {
  if (f.functionName === '(idle)') return 'idle (waiting for child processes)';
  if (f.functionName === '(garbage collector)') return 'garbage collector';
  if (f.functionName === '(program)') return 'V8 (program: compile, runtime)';
  if (f.functionName === '(root)') return 'V8 (program: compile, runtime)';
  if (ours(f)) return 'our code (dist/app)';
  if (f.url.startsWith('node:') || f.url === '') return 'node internals (spawn, streams, fs)';
  return 'other JS';
}

const top = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, us]) => ({ fn, ms: Math.round(us / 100) / 10 }));

export function summariseProfile(text: string, marks: Marks): ProfileSummary {
  const p = JSON.parse(text) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const cats: Record<string, number> = {};
  const phases: Record<string, Record<string, number>> = {};
  // The profile's clock is monotonic; it ends when the process exits.
  const wallOf = (us: number) => marks.exit - (p.endTime - us) / 1000;
  const phaseOf = (w: number) =>
    w < marks.firstCommand ? 'start-up (to the first command)' : w < marks.backupStart ? 'rest of setup' : w <= marks.backupEnd ? 'backup' : 'teardown';
  let ts = p.startTime;
  const ourSelf = new Map<string, number>();
  const ourIncl = new Map<string, number>();
  const nodeSelf = new Map<string, number>();
  const key = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}`;
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to it.
    const dt = p.timeDeltas[i + 1] ?? 0;
    ts += p.timeDeltas[i] ?? 0;
    const node = byId.get(p.samples[i]!)!;
    const f = node.callFrame;
    const cat = category(f);
    cats[cat] = (cats[cat] ?? 0) + dt;
    const ph = (phases[phaseOf(wallOf(ts))] ??= {});
    ph[cat] = (ph[cat] ?? 0) + dt;
    if (cat.startsWith('our')) ourSelf.set(key(f), (ourSelf.get(key(f)) ?? 0) + dt);
    if (cat.startsWith('node')) nodeSelf.set(key(f), (nodeSelf.get(key(f)) ?? 0) + dt);
    if (cat.startsWith('idle')) continue;
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (!ours(cf)) continue;
      const k = key(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      ourIncl.set(k, (ourIncl.get(k) ?? 0) + dt);
    }
  }
  return {
    wallMs: Math.round((p.endTime - p.startTime) / 1000),
    phasesMs: Object.fromEntries(
      Object.entries(phases).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([c, us]) => [c, Math.round(us / 1000)]))]),
    ),
    categoriesMs: Object.fromEntries(Object.entries(cats).map(([k, v]) => [k, Math.round(v / 1000)])),
    ourSelf: top(ourSelf, 12),
    ourInclusive: top(ourIncl, 15),
    nodeSelf: top(nodeSelf, 8),
  };
}
