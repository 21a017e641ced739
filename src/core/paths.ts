// Path relations, written once: every "is this inside that folder" question
// in the code goes through here, so "/" and trailing slashes are handled alike.
import { posix } from 'node:path';

/** True when `path` is `dir` itself or anything below it (both absolute, normalised). */
export function isWithin(path: string, dir: string): boolean {
  if (dir === '/') return path.startsWith('/');
  const d = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  return path === d || path.startsWith(d + '/');
}

/** True when `path` is strictly below `dir`. */
export function isBelow(path: string, dir: string): boolean {
  return path !== dir && isWithin(path, dir);
}

/** `dir` and each of its ancestors up to and including `stop` (which must contain it), deepest first. */
export function ancestors(dir: string, stop: string): string[] {
  const out: string[] = [];
  for (let d = dir; isWithin(d, stop); d = posix.dirname(d)) {
    out.push(d);
    if (d === stop || d === '/') break;
  }
  return out;
}

const depth = (p: string) => (p === '/' ? 0 : p.split('/').length);

/** Parents before children: a mount point is always shallower than what it holds. */
export function mountOrder<T extends { target: string }>(mounts: T[]): T[] {
  // Each depth computed once, not in every comparison.
  return mounts
    .map((m) => ({ m, d: depth(m.target) }))
    .sort((a, b) => a.d - b.d || (a.m.target < b.m.target ? -1 : a.m.target > b.m.target ? 1 : 0))
    .map((x) => x.m);
}

/** The name of a mount root's files in the state directory (lock, journal, mount tables). */
export function stateKey(mountRoot: string): string {
  return encodeURIComponent(mountRoot);
}
