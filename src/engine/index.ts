import { commandEngine } from './command.js';
import { programIndex, type Engine } from './engine.js';

export { programIndex, programPrefix } from './engine.js';
import { kopiaEngine } from './kopia.js';
import { resticEngine } from './restic.js';

export const ENGINES: Record<string, Engine> = { kopia: kopiaEngine, restic: resticEngine, command: commandEngine };

/** The engine a -c command implies when --engine is not given. */
export function engineForCommand(argv: string[]): Engine {
  const prog = argv[programIndex(argv)] ?? '';
  const base = prog.split('/').pop();
  return base === 'kopia' ? kopiaEngine : base === 'restic' ? resticEngine : commandEngine;
}
