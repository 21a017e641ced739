// The dry run: the plan as the commands a real run executes, in order,
// cleanup included, as text or as one JSON event.
import type { Reporter } from '../core/report.js';
import { quoteArgv } from '../core/errors.js';
import { hookArgv } from '../execute/hooks.js';
import { fillTime } from '../engine/engine.js';
import { engineArgv } from '../execute/namespace.js';
import { cleanupSteps } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { display } from '../plan/display.js';
import { exactDestroyCommands } from '../safety/destroy-exact.js';
import type { ExactDestroy } from '../zfs/destroy-program.js';
import type { Action } from '../plan/types.js';

/**
 * The destroy as the shell would run it: the program on its standard input,
 * and should it fail, the exact destroy's commands (safety/destroy-exact.ts).
 */
function destroyDisplay(a: Action, x: ExactDestroy): string {
  const [head, ...rest] = display(a).split('\n');
  return [`${head} || {`, ...rest, ...exactDestroyCommands(x).map((c) => `  ${c}`), '}'].join('\n');
}

/** A command run in the background, as the shell reads it: `&` ends its first line (a here-document's lines follow). */
function background(command: string): string {
  const nl = command.indexOf('\n');
  return nl < 0 ? `${command} &` : `${command.slice(0, nl)} &${command.slice(nl)}`;
}

export interface PlannedCommand {
  phase: string;
  command: string;
  /** The repository a backup or retention command is for (a job with configured repositories). */
  repository?: string;
}

export function planCommands(plan: Plan, pre: string | null, post: string | null): PlannedCommand[] {
  const out: PlannedCommand[] = [];
  if (pre) out.push({ phase: 'pre-hook', command: quoteArgv(hookArgv(pre)) });
  // Steps that run beside the rest of setup read as the shell would run them: `&`, then `wait` before the backup.
  for (const s of plan.steps) out.push({ phase: s.phase, command: s.beside ? background(display(s.do)) : display(s.do) });
  if (plan.steps.some((s) => s.beside)) out.push({ phase: 'wait', command: 'wait' });
  // Each repository's calls, then its retention (run after cleanup, only if its backup succeeded).
  const named = plan.repositories.length > 1 || plan.repositories.some((r) => r.configured);
  for (const r of plan.repositories) {
    const repository = named ? { repository: r.name } : {};
    for (const c of r.calls) out.push({ phase: 'backup', ...repository, command: quoteArgv(engineArgv({ ...c, argv: fillTime(c.argv, null) }, plan)) });
  }
  const retention = plan.repositories.flatMap((r) => r.retention.map((argv) => ({ phase: 'retention', ...(named ? { repository: r.name } : {}), command: quoteArgv(argv) })));
  const cleanup = cleanupSteps(plan);
  for (const [i, u] of cleanup.entries()) {
    // Commands that run side by side read as the shell would run them.
    const command = u.exact ? destroyDisplay(u.action, u.exact) : display(u.action);
    out.push({ phase: u.phase, command: u.beside ? background(command) : command });
    if (!u.beside && cleanup[i - 1]?.beside) out.push({ phase: 'wait', command: 'wait' });
  }
  out.push(...retention);
  if (post) out.push({ phase: 'post-hook', command: quoteArgv(hookArgv(post)) });
  return out;
}

export function printPlan(plan: Plan, pre: string | null, post: string | null, reporter: Reporter): void {
  const commands = planCommands(plan, pre, post);
  if (reporter.json) {
    reporter.event('plan', {
      dryRun: true,
      runId: plan.runId,
      snapshot: plan.snapshot,
      mountRoot: plan.mountRoot,
      engine: plan.engine.name,
      layout: plan.layout,
      pools: plan.pools,
      datasets: plan.selection.selected.map((d) => d.name),
      skipped: plan.selection.skipped,
      commands,
    });
    return;
  }
  reporter.print(`# dry run: nothing is changed. Run ${plan.runId}, snapshot @${plan.snapshot}`);
  reporter.print(`# ${plan.selection.selected.length} datasets in ${plan.pools.length} pool(s); the backup's time will be the snapshot's creation time`);
  let last = '';
  for (const c of commands) {
    const base = c.phase === 'backup' || c.phase === 'retention' ? c.phase : ['umount', 'rmdir', 'release', 'destroy'].includes(c.phase) ? 'cleanup' : c.phase.endsWith('hook') ? c.phase : c.phase === 'wait' ? last : 'setup';
    const section =
      c.phase === 'retention' ? `retention${c.repository ? ` of repository ${c.repository}` : ''} (if its backup succeeded)` : c.repository ? `${base} to repository ${c.repository}` : base;
    if (section !== last) reporter.print(`# ${section}`);
    last = section;
    reporter.print(c.command);
  }
}
