// Internal: the comparison of a verification, as its own process, started
// inside a private mount namespace by ns-exec (the paths layout), where the
// snapshots are mounted over the real paths again. Prints the CompareResult
// as one JSON line on stdout.
import { readFileSync, rmSync } from 'node:fs';
import { compareTrees, skipper, type CompareJob } from '../verify/compare.js';
import { inSample } from '../verify/sample.js';

// The job comes in a 0600 file (it can be larger than one argv word may be), read and removed at once.
const jobPath = process.argv[2] ?? '';
let job: CompareJob;
try {
  job = JSON.parse(readFileSync(jobPath, 'utf8')) as CompareJob;
} catch (e) {
  process.stderr.write(`kopiatomic[verify]: could not read the comparison job ${JSON.stringify(jobPath)}: ${(e as Error).message}\n`);
  process.exit(1);
} finally {
  if (jobPath) rmSync(jobPath, { force: true });
}
let stop: string | null = null;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => (stop = sig));

compareTrees(job.pairs, {
  contents: (p) => inSample(job.runId, p, job.percent),
  absence: job.absence,
  skip: skipper(job.skip),
  aborted: () => (stop ? `interrupted by ${stop}` : null),
}).then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  },
  (e: Error) => {
    process.stderr.write(`kopiatomic[verify]: ${e.message}\n`);
    process.exit(1);
  },
);
