// Runs inside `unshare --mount --propagation private`: mounts the snapshots
// over the real mount points, keeps the engine's own folders writable, then
// runs the engine and exits with its status. Internal: started by kopiatomic.
//
// Nothing here needs undoing: every mount is made in this private namespace,
// and the kernel removes them all when its last process exits.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { SystemRunner } from '../core/exec.js';
import { isWithin } from '../core/paths.js';
import { Reporter } from '../core/report.js';
import { readNamespaceJob, type NamespaceJob } from '../execute/namespace.js';
import { checkNamespaceTarget } from '../execute/namespace-targets.js';
import { linux } from '../platform/linux.js';

const reporter = new Reporter({
  json: false,
  verbosity: process.env['KOPIATOMIC_VERBOSE'] === '1' ? 2 : 1,
  name: 'kopiatomic[ns]',
  out: (l) => process.stderr.write(l + '\n'),
});
const runner = new SystemRunner(reporter, false);

// The job comes in a file (it can be larger than one argv word may be), read
// and removed at once; never inline.
let job: NamespaceJob;
try {
  job = readNamespaceJob(process.argv[2], (p) => readFileSync(p, 'utf8'), (p) => rmSync(p, { force: true }));
} catch (e) {
  reporter.error(`could not read the namespace job: ${(e as Error).message}`);
  process.exit(4);
}

const under = isWithin;

let child: ChildProcess | null = null;
let stopping: NodeJS.Signals | null = null;

function stop(sig: NodeJS.Signals): void {
  const first = !stopping;
  stopping ??= sig;
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill(sig);
    // kopiatomic SIGKILLs us after its grace period; the engine must be gone
    // first, or it would keep the namespace and its snapshot mounts alive.
    if (first && job.killAfterMs) {
      const c = child;
      setTimeout(() => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'), Math.max(job.killAfterMs - 1000, job.killAfterMs / 2)).unref();
    }
  } else if (!child) process.exit(128 + (constants.signals[sig] ?? 15));
}

// The namespace lives as long as we do. If kopiatomic dies (even by SIGKILL),
// stop the engine and go, so the snapshot mounts vanish and the next run's
// recovery can destroy the snapshots. The pid comes from kopiatomic itself:
// it may die before unshare has even started us.
const parent = job.parent;
const orphaned = () => process.ppid !== parent;
setInterval(() => {
  if (!orphaned()) return;
  reporter.warn(`kopiatomic (pid ${parent}) is gone: stopping the engine`);
  stop('SIGTERM');
  setTimeout(() => {
    child?.kill('SIGKILL');
    process.exit(128 + 9);
  }, 10_000).unref();
}, 1000).unref();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => stop(sig));

async function main(): Promise<number> {
  if (orphaned()) throw new Error(`kopiatomic (pid ${parent}) is gone`);
  const targets = job.mounts.map((m) => m.target);
  // A writable folder that holds a frozen mount point keeps its live content
  // (with whatever is mounted below it): the engine must be able to write there.
  const keep = job.keepWritable.filter((p) => existsSync(p) && targets.some((t) => under(p, t)));
  const liveOnly = (t: string) => keep.some((k) => under(t, k));

  // Every target is checked right before its mount, against the snapshots
  // mounted so far: nothing can change a path that lies in a read-only snapshot.
  const frozen = new Set<string>();
  // Stage the writable folders on a private tmpfs before the snapshots hide them.
  const staged = keep.map((p, i) => ({ live: p, stage: `${job.staging}/${i}` }));
  if (staged.length) {
    try {
      mkdirSync(job.staging, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    checkNamespaceTarget(job.staging, frozen);
    await runner.run(['mount', '-t', 'tmpfs', '-o', 'mode=0700,size=1m', 'kopiatomic-ns', job.staging]);
  }
  for (const s of staged) {
    mkdirSync(s.stage);
    await runner.run(['mount', '--rbind', s.live, s.stage]);
  }
  // Parents first: a child's mount point is a folder inside its parent's snapshot.
  for (const m of job.mounts) {
    if (liveOnly(m.target)) {
      reporter.warn(`${m.target} holds a directory ${job.argv[0]} writes to; it is read live, not from the snapshot`);
      continue;
    }
    checkNamespaceTarget(m.target, frozen);
    // mount.zfs (OpenZFS >= 2.2 through zfs_mount_at) refuses a mount point
    // that is not empty, and a real mount point never is; with
    // ZFS_MOUNT_HELPER set it calls mount(2) directly, which mounts over it.
    await runner.run(linux.mountArgv({ dataset: m.dataset, snapshot: m.snapshot, mountpoint: m.target, target: m.target }), {
      env: { ...process.env, ZFS_MOUNT_HELPER: '1' },
    });
    frozen.add(m.target);
  }
  for (const s of staged) {
    if (existsSync(s.live)) {
      checkNamespaceTarget(s.live, frozen);
      await runner.run(['mount', '--rbind', s.stage, s.live]);
    } else reporter.warn(`${s.live} did not exist when the snapshot was taken; it is read-only during the backup`);
  }
  if (stopping) return 128 + (constants.signals[stopping] ?? 15);
  if (orphaned()) throw new Error(`kopiatomic (pid ${parent}) is gone`);

  // job.argv[0] is an absolute path, found before any mount (readNamespaceJob refuses a bare name).
  child = spawn(job.argv[0]!, job.argv.slice(1), { stdio: 'inherit' });
  const c = child;
  return new Promise((resolve) => {
    c.on('error', (e) => {
      reporter.error(`${job.argv[0]}: ${e.message}`);
      resolve(127);
    });
    c.on('close', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 15) : 1)));
  });
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    reporter.error(`could not prepare the backup namespace: ${e.message}`);
    process.exit(4);
  },
);
