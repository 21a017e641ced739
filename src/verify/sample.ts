// The deterministic sample for --verify=PERCENT: a file's contents are
// compared when a hash of (run id, path) falls below PERCENT. The same run id
// always picks the same files (a failure can be reproduced), different runs
// pick different ones (over many runs every file gets its turn), and no state
// is kept: one hash per file, nothing in memory.
import { createHash } from 'node:crypto';

export function inSample(runId: string, path: string, percent: number): boolean {
  if (percent >= 100) return true;
  const h = createHash('sha256').update(runId).update('\0').update(path).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000 < percent / 100;
}
