import { accessSync, constants, statSync } from 'node:fs';
import { posix } from 'node:path';

/** Where `prog` would be found, as execvp looks for it, or null. */
export function which(prog: string, path: string = process.env['PATH'] ?? ''): string | null {
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
