// Where the namespace helper may mount: the one rule for every mount it makes
// (a snapshot over a real mount point, the staging tmpfs, a writable
// directory bound back). Kept in one place so that it can follow the tree's
// rule (mount-phase.ts checkTarget) wherever that goes.
import { lstatSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { errorMessage, SetupError } from '../core/errors.js';
import { checkTarget } from './mount-phase.js';

/**
 * Throws unless `target` is a real directory at exactly this path whose every
 * ancestor is a real directory that is either inside a snapshot this
 * namespace has already mounted (read-only) or root's alone (owned by us,
 * not writable by group or others): then no other user can swap any part of
 * the path for a symlink and make root mount over something else (say /etc,
 * which the engine then reads its certificates from). The target itself may
 * belong to anyone (a user's home is their own dataset's mount point): what
 * is mounted over it hides its content, and its parent keeps it in place.
 */
export function checkNamespaceTarget(target: string, frozen: ReadonlySet<string>): void {
  const refuse = (why: string) => new SetupError(`refusing to mount at ${target} in the backup's namespace: ${why}`);
  if (!target.startsWith('/') || posix.normalize(target) !== target || target.endsWith('/')) throw refuse('it is not an absolute, normalised path');
  try {
    checkTarget('/', posix.dirname(target), frozen);
  } catch (e) {
    throw refuse(errorMessage(e).replace(/^refusing to mount a snapshot at [^:]*: /, ''));
  }
  let st;
  try {
    st = lstatSync(target);
  } catch (e) {
    throw refuse(`it is missing (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`);
  }
  if (st.isSymbolicLink()) throw refuse('it is a symbolic link');
  if (!st.isDirectory()) throw refuse('it is not a directory');
  const real = realpathSync(target);
  if (real !== target) throw refuse(`it resolves to ${real}`);
}
