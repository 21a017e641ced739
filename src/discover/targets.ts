// Turns command-line words into targets: a word with a slash at the start (or
// a ./ ../ prefix) is a path and must exist; anything else is a dataset name.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';

/** A word of the command line: a dataset by name, or a path inside a mounted dataset. */
export type Target = { kind: 'dataset'; name: string } | { kind: 'path'; path: string };

export function toTarget(word: string): Target {
  if (word.startsWith('/') || word.startsWith('./') || word.startsWith('../') || word === '.' || word === '..') {
    try {
      return { kind: 'path', path: realpathSync(resolve(word)) };
    } catch {
      throw new UsageError(`no such file or directory: ${word}`);
    }
  }
  if (word === '' || word.includes('@')) throw new UsageError(`not a filesystem dataset: ${JSON.stringify(word)}`);
  return { kind: 'dataset', name: word.replace(/\/+$/, '') };
}
