// Runs inside `unshare --mount --propagation private`: mounts the snapshots
// over the real mount points, keeps the engine's own folders writable, then
// runs the engine and exits with its status. Internal: started by kopiatomic.
import { mkdirSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { SystemRunner } from '../core/exec.js';
import { Reporter } from '../core/report.js';
import type { NamespaceJob } from '../execute/namespace.js';
import { linux } from '../platform/linux.js';

const job = JSON.parse(process.argv[2] ?? '{}') as NamespaceJob;
const reporter = new Reporter({ json: false, verbosity: process.env['KOPIATOMIC_VERBOSE'] === '1' ? 2 : 1, name: 'kopiatomic[ns]', out: (l) => process.stderr.write(l + '\n') });
const runner = new SystemRunner(reporter, false);

const under = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(dir + '/');

async function main(): Promise<number> {
  // Stage the writable folders on a private tmpfs before the snapshots hide them.
  const keep = job.keepWritable.filter((p) => existsSync(p) && job.mounts.some((m) => under(p, m.target)));
  if (keep.length) {
    mkdirSync(job.staging, { recursive: true, mode: 0o700 });
    await runner.run(['mount', '-t', 'tmpfs', '-o', 'mode=0700,size=1m', 'kopiatomic-ns', job.staging]);
  }
  const staged = keep.map((p, i) => ({ live: p, stage: `${job.staging}/${i}` }));
  for (const s of staged) {
    mkdirSync(s.stage);
    await runner.run(['mount', '--bind', s.live, s.stage]);
  }
  for (const m of job.mounts) {
    await runner.run(linux.mountArgv({ dataset: m.dataset, snapshot: m.snapshot, mountpoint: m.target, target: m.target }));
  }
  for (const s of staged) {
    if (existsSync(s.live)) await runner.run(['mount', '--bind', s.stage, s.live]);
    else reporter.warn(`${s.live} did not exist when the snapshot was taken; it is read-only in the backup namespace`);
  }
  const child = spawn(job.argv[0]!, job.argv.slice(1), { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => {
    child.on('error', (e) => {
      reporter.error(`${job.argv[0]}: ${e.message}`);
      resolve(127);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    reporter.error(`could not prepare the backup namespace: ${e.message}`);
    process.exit(4);
  },
);
