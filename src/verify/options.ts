// --verify[=PERCENT] and --verify-command: parsing and the checks that need
// no system access (so bad values exit 2 before anything is locked).
import { UsageError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';

/** "100", "10", "2.5" -> a number in (0, 100]; anything else is a usage error. */
export function parseVerifyPercent(text: string, flag = '--verify'): number {
  const t = text.trim().replace(/%$/, '');
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
  if (!(n > 0 && n <= 100)) throw new UsageError(`${flag} takes a percentage ${flag === '--verify' ? 'of files to compare' : 'of the data to read back'}, more than 0 and at most 100: ${JSON.stringify(text)}`);
  return n;
}

/** Throws a UsageError when --verify cannot be honoured with this engine (the command engine needs a restore command). */
export function verifyProblem(engine: Pick<Engine, 'verifyProblem'>, percent: number | null, command: string[] | null): void {
  if (percent === null) return;
  const problem = engine.verifyProblem(command);
  if (problem) throw new UsageError(problem);
}
