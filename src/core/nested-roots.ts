// Two mount roots nest when one is inside the other (or they are the same
// directory under two spellings): a run's recovery at the outer one would
// walk into the inner one's tree. Compared both as written and as resolved
// (symbolic links in the existing part of the path followed), so a link
// cannot hide that two roots are one.
import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { isWithin } from './paths.js';

/** `root` with the symbolic links of its longest existing ancestor resolved; the rest appended as written. */
export function resolvedRoot(root: string): string {
  const rest: string[] = [];
  for (let d = posix.normalize(root); ; d = posix.dirname(d)) {
    try {
      return posix.join(realpathSync(d), ...rest.reverse());
    } catch {
      if (d === '/') return posix.normalize(root);
      rest.push(posix.basename(d));
    }
  }
}

/** True when one root is inside the other or both are the same directory. */
export function rootsNest(a: string, b: string): boolean {
  const na = posix.normalize(a);
  const nb = posix.normalize(b);
  if (isWithin(na, nb) || isWithin(nb, na)) return true;
  const ra = resolvedRoot(na);
  const rb = resolvedRoot(nb);
  return isWithin(ra, rb) || isWithin(rb, ra);
}

/** True when the roots nest but are not the same path as written (equal roots share one lock instead). */
export function rootsNestApart(a: string, b: string): boolean {
  return posix.normalize(a).replace(/\/+$/, '') !== posix.normalize(b).replace(/\/+$/, '') && rootsNest(a, b);
}
