// `kopiatomic cleanup [-n] [--mount-root DIR]`: the recovery every run starts
// with, on demand and across all pools; exit 5 if something could not be undone.
import type { Options } from './options.js';
import type { CommandSpec } from './command.js';
import { OUTPUT_FLAGS } from './flags.js';
import { UsageError } from '../core/errors.js';
import { lifecycle, type CommandContext } from './lifecycle.js';

export async function cleanupCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const spec = { job: 'cleanup', mountRoot: opts.mountRoot, wait: opts.wait, dryRun: opts.dryRun, scan: 'always' as const, leftoversFail: true, post: null, hookEnv: {} };
  const s = await lifecycle(ctx, spec, async (rec) => {
    ctx.reporter.info(
      rec.actions ? `cleanup: ${rec.actions} leftover(s) ${opts.dryRun ? 'would be ' : ''}handled` : 'cleanup: nothing left behind by earlier runs',
    );
    for (const l of rec.leftovers) ctx.reporter.error(`cleanup: cannot remove ${l}`);
    return { summary: { recovered: rec.actions }, noPostHook: true };
  });
  return s.code;
}

export const cleanupSpec: CommandSpec = {
  words: ['cleanup'],
  mode: 'cleanup',
  operands: '',
  summary: 'undo what earlier runs left behind',
  about: `Undoes what earlier runs left behind (after a crash, a power cut or a
SIGKILL): their snapshots, holds, mounts and directories, across all pools,
as every run does first. Exit 5 if something could not be undone.`,
  flags: ['dry-run', 'mount-root', 'wait', 'kill-after', 'zfs-timeout', ...OUTPUT_FLAGS],
  check(operands) {
    if (operands.length) throw new UsageError('cleanup takes no datasets');
    return operands;
  },
};
