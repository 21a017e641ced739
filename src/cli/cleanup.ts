// `kopiatomic cleanup [-n] [--mount-root DIR]`: the recovery every run starts
// with, on demand and across all pools; exit 5 if something could not be undone.
import type { Options } from './args.js';
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
