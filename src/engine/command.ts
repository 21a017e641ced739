// Any program: the command and its options, with the tree's root appended.
import type { Engine } from './engine.js';

export const commandEngine: Engine = {
  name: 'command',
  defaultCommand: [],
  needsTree: () => true,
  layoutProblem: (layout) => (layout === 'paths' ? 'the paths layout needs --engine kopia or restic' : null),
  probe: async () => ({}),
  calls: (ctx) => [{ argv: [...ctx.command, ...ctx.options, ctx.root], env: {} }],
  captureStdout: false,
  outcome: (code) => (code === 0 ? 'ok' : 'failed'),
};

// ---- verify (issue 13)
/**
 * The user's verify command: it must restore the backup just made so that
 * DIR/x is what ROOT/x was. It gets ROOT and DIR as its last two arguments
 * and as KOPIATOMIC_VERIFY_ROOT / KOPIATOMIC_VERIFY_DIR.
 */
export function verifyCommandArgv(command: string[], root: string, dir: string): string[] {
  return [...command, root, dir];
}
// ---- end verify
