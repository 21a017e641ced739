// Shared by the threat tests: the machine's state for a mount root, and a
// run that can be held in its backup until the test lets it go.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { mountsUnder, run, shOk, type RunResult } from '../lib.js';

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
export function startHeld(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): { started: Promise<void>; done: Promise<RunResult> } {
  let signal!: () => void;
  const started = new Promise<void>((r) => (signal = r));
  const done = run(bin, ['--json', ...args], { env, timeoutMs: 240_000, onEvent: (e) => e['event'] === 'backup-start' && signal() });
  void done.then(() => signal()); // a run that never reached its backup does not leave the test waiting
  return { started, done };
}

export function gone(path: string): boolean {
  return !existsSync(path);
}
