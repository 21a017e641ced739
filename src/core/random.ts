// Random bytes from /dev/urandom (Linux and FreeBSD alike): loading
// node:crypto for a few bytes is a large part of a run's start-up.
import { closeSync, openSync, readSync } from 'node:fs';

export function randomHex(bytes: number): string {
  const b = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, b, 0, bytes, null);
  } finally {
    closeSync(fd);
  }
  return b.toString('hex');
}
