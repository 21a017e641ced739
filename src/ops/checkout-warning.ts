// A program run from a git checkout (`npm install -g .` links the checkout, or
// a clone run in place) is a poor thing to schedule: the units and cron lines
// name the checkout's path, so removing or rebuilding the clone breaks every
// backup. Installed from the package or the npm tarball, the program is a copy.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout (a directory holding .git, a directory or a worktree's file) that contains path, or null. */
export function gitCheckoutOf(path: string): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/** Tells err when the scheduled program (its resolved path) lives in a git checkout. */
export function warnIfCheckout(script: string, err: (line: string) => void): void {
  const checkout = gitCheckoutOf(script);
  if (checkout === null) return;
  err(`kopiatomic schedule: warning: ${script} is in the git checkout ${checkout}; the schedule runs it from there, so moving, rebuilding or deleting the checkout breaks every scheduled backup. Install the package (or npm install -g ./kopiatomic-VERSION.tgz) and schedule that.`);
}
