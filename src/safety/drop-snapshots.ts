// What recovery and the exact destroy (destroy-exact.ts) report about a
// snapshot they could not remove: a leftover, with the reason zfs gave.
import { CommandError } from '../core/errors.js';

export interface Leftover {
  what: string;
  reason: string;
}

export function errorReason(e: unknown): string {
  if (e instanceof CommandError) {
    const text = e.stderr.trim().split('\n')[0];
    return e.reason === 'program-missing' || e.reason === 'spawn-failed' || !text ? e.message : text;
  }
  return (e as Error).message;
}
