// How an action is shown: as the shell command that would do the same, so
// the dry run, the log and the journal read alike.
import { quoteArgv } from '../core/errors.js';
import type { Action } from './plan.js';

export function display(a: Action): string {
  if (a.kind === 'exec') return quoteArgv(a.argv);
  if (a.kind === 'mkdir') return quoteArgv(['mkdir', '-m', a.mode.toString(8).padStart(4, '0'), a.path]);
  return quoteArgv(['rmdir', a.path]);
}
