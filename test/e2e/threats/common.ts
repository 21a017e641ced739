// Shared by the threat tests: the machine's state for a mount root, a run
// that can be held in its backup until the test lets it go, and what is ours
// in a pool (snapshots named like ours, our holds).
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { mountsUnder, run, sh, shOk, type Pool, type ExecResult } from '../lib.js';

export const STATE = '/run/kopiatomic';
export const JOURNALS = '/var/lib/kopiatomic';
export const key = (root: string) => encodeURIComponent(root);
export const lockOf = (root: string) => `${STATE}/${key(root)}.lock`;

/** Removes whatever a test's runs at `root` may have left: mounts (deepest first), the folder, lock and journals. */
export function forgetRoot(root: string): void {
  for (const m of mountsUnder(root).reverse()) shOk('umount', '-f', m.target);
  if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
  for (const f of [lockOf(root), `${JOURNALS}/${key(root)}.journal`, `${JOURNALS}/${key(root)}.leftovers`]) rmSync(f, { force: true });
}

/** An engine body that waits for DIR/go (the test's cue), then runs `then`. */
export function waitForCue(dir: string, then: string): string {
  return `while [ ! -e '${dir}/go' ]; do sleep 0.2; done\n${then}`;
}

export function cue(dir: string): void {
  writeFileSync(`${dir}/go`, '');
}

/** Starts a run and resolves `started` once its engine has started (its backup-start event). */
export function startHeld(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): { started: Promise<void>; done: Promise<ExecResult> } {
  let signal!: () => void;
  const started = new Promise<void>((r) => (signal = r));
  const done = run(bin, ['--json', ...args], { env, timeoutMs: 240_000, onEvent: (e) => e['event'] === 'backup-start' && signal() });
  void done.then(() => signal()); // a run that never reached its backup does not leave the test waiting
  return { started, done };
}

export function gone(path: string): boolean {
  return !existsSync(path);
}
export const journalOf = (root: string) => `${JOURNALS}/${key(root)}.journal`;

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
  for (const f of ['.journal', '.leftovers', '.mounts']) rmSync(`${JOURNALS}/${key(root)}${f}`, { force: true });
  rmSync(lockOf(root), { force: true });
}

/** What the run said, for assertion messages only. */
export function why(r: ExecResult): string {
  return r.stderr + r.events.filter((e) => e['event'] === 'log' || e['event'] === 'leftover').map((e) => JSON.stringify(e)).join('\n');
}

export const cmd = (root: string, c: string) => ['--json', '--mount-root', root, '--engine', 'command', '-c', c];
