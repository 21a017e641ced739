import { accessSync, constants, statSync } from 'node:fs';
import { posix } from 'node:path';
import { systemPath } from './system-path.js';

/**
 * Where `prog` would be found, as execvp looks for it, or null. The search
 * covers the system folders too (core/system-path.ts), as spawn does once
 * useSystemPath() has run at startup.
 */
export function which(prog: string, path: string = systemPath(process.env['PATH'])): string | null {
  const candidates = prog.includes('/') ? [prog] : path.split(':').filter(Boolean).map((d) => posix.join(d, prog));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return null;
}
