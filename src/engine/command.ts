// Any program: the command and its options, with the tree's root appended.
// It cannot restore by itself: the verification runs the user's own restore
// command (--verify-command) into DIR/root, compared with the mount root.
import { mkdirSync } from 'node:fs';
import type { Engine, RestoreInput, Restorer } from './engine.js';

export const commandEngine: Engine = {
  name: 'command',
  noun: 'backup command',
  defaultCommand: [],
  needsTree: () => true,
  layoutProblem: (layout) => (layout === 'paths' ? 'the paths layout needs --engine kopia or restic' : null),
  probe: async () => ({}),
  calls: (ctx) => [{ argv: [...ctx.command, ...ctx.options, ctx.root], env: {} }],
  captureStdout: false,
  outcome: (code) => (code === 0 ? 'ok' : 'failed'),
  restorer: commandRestorer,
  restoreLines: (i) => (i.verifyCommand ? [verifyCommandArgv(i.verifyCommand, i.mountRoot, 'DIR/root')] : []),
  verifyProblem: (verifyCommand) =>
    verifyCommand
      ? null
      : '--verify with the command engine needs --verify-command CMD (config verify_command): a command that restores the backup just made into the directory given as its last argument',
  figures: () => undefined,
  // Any program: nothing to tell it which of its backups to forget.
  retention: () => ({ problem: 'the command engine cannot apply a retention (it does not know how your program forgets backups): remove the job\'s retention, or forget with your program\'s own tool in the post hook' }),
};

/**
 * The user's verify command: it must restore the backup just made so that
 * DIR/x is what ROOT/x was. It gets ROOT and DIR as its last two arguments
 * and as KOPIATOMIC_VERIFY_ROOT / KOPIATOMIC_VERIFY_DIR.
 */
export function verifyCommandArgv(command: string[], root: string, dir: string): string[] {
  return [...command, root, dir];
}

async function commandRestorer(i: RestoreInput): Promise<Restorer> {
  const cmd = i.verifyCommand;
  if (!cmd) throw new Error('the command engine needs --verify-command to verify');
  const size = await i.logicalSize();
  return {
    size,
    restore: async (dir) => {
      const target = `${dir}/root`;
      mkdirSync(target, { mode: 0o700 });
      return i.run(verifyCommandArgv(cmd, i.mountRoot, target), { KOPIATOMIC_VERIFY_ROOT: i.mountRoot, KOPIATOMIC_VERIFY_DIR: target });
    },
    pairs: (dir) => [{ frozen: i.mountRoot, restored: `${dir}/root`, shown: i.mountRoot, rootMeta: false }],
  };
}
