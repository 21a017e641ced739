// The value of our proof property (why and how it is checked: safety/proof.ts).
import { hmacSha256 } from '../core/sha256.js';

export function proofFor(key: Uint8Array, pool: string, snapshot: string, run: string, owner: string): string {
  return hmacSha256(key, `${pool}@${snapshot}\0${run}\0${owner}`).toString('hex');
}
