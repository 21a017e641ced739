// Shared by the threat tests on our snapshots: what is ours in a pool, its holds, and the state a run keeps.
import { rmSync } from 'node:fs';
import { mountsUnder, shOk, sh, type Pool, type RunResult } from '../lib.js';

export const JOURNALS = '/var/lib/kopiatomic';
export const journalOf = (root: string) => `${JOURNALS}/${encodeURIComponent(root)}.journal`;

/** Every snapshot of the pools whose name is one of ours (a received copy included). */
export function namedOurs(pools: Pool[]): string[] {
  return pools.flatMap((p) => p.snapshots()).filter((s) => s.includes('@kopiatomic-'));
}

/** Every hold with our tag on any snapshot of the pools, as "snapshot tag". */
export function ourHolds(pools: Pool[]): string[] {
  const snaps = pools.flatMap((p) => p.snapshots());
  if (!snaps.length) return [];
  return sh('zfs', 'holds', '-H', ...snaps)
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f[1] === 'kopiatomic')
    .map((f) => `${f[0]} ${f[1]}`);
}

export function teardown(pools: Pool[], root: string): void {
  for (const p of pools) p.destroy();
  for (const m of mountsUnder(root).reverse()) shOk('umount', '-f', m.target);
  if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
  for (const f of ['.journal', '.leftovers', '.mounts']) rmSync(`${JOURNALS}/${encodeURIComponent(root)}${f}`, { force: true });
  rmSync(`/run/kopiatomic/${encodeURIComponent(root)}.lock`, { force: true });
}

/** What the run said, for assertion messages only. */
export function why(r: RunResult): string {
  return r.stderr + r.events.filter((e) => e['event'] === 'log' || e['event'] === 'leftover').map((e) => JSON.stringify(e)).join('\n');
}

export const cmd = (root: string, c: string) => ['--json', '--mount-root', root, '--engine', 'command', '-c', c];
