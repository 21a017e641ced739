// `kopiatomic jobs [JOB...]`: each job and the datasets it would back up now,
// and why (listed, below a listed one, or the kopiatomic:backup property set
// locally or inherited from where); read-only.
import { discover } from '../discover/inventory.js';
import { explain, parseBackupSources, zfsGetBackupArgv } from '../plan/why.js';
import type { Options } from './options.js';
import { configModules } from './config-modules.js';
import type { CommandSpec } from './command.js';
import { JOB_FLAGS, OUTPUT_FLAGS } from './flags.js';
import { requireZfs, selectFor } from './backup.js';
import type { CommandContext } from './lifecycle.js';

export async function jobsCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { loadConfig, resolveJobs } = await configModules();
  const loaded = loadConfig(opts.configFile, ctx.platform.name);
  const jobs = resolveJobs(loaded, opts.names, { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: false, flags: opts });
  if (opts.listNames) {
    // For shell completion and scripts: read from the configuration only, no zfs.
    const names = jobs.map((j) => j.job);
    if (opts.json) ctx.reporter.event('job-names', { jobs: names });
    else if (names.length) ctx.reporter.print(names.join('\n'));
    return 0;
  }
  requireZfs();
  const inventory = await discover(ctx.runner, ctx.platform);
  // Where each value comes from: only `zfs get` tells (local, inherited from X).
  const sources = jobs.some((j) => j.property) ? parseBackupSources((await ctx.runner.run(zfsGetBackupArgv())).stdout) : new Map();
  const shown = jobs.map((j) => {
    const sel = selectFor(j, inventory);
    return { job: j.job, select: j.property ? 'property' : j.all ? 'all' : 'datasets', engine: j.engine.name, layout: j.layout, mountRoot: j.mountRoot, datasets: explain(j, inventory, sel, sources) };
  });
  if (opts.json) {
    ctx.reporter.event('jobs', { jobs: shown });
    return 0;
  }
  const out: string[] = [];
  for (const j of shown) {
    out.push(`${j.job} (${j.engine}, ${j.layout}, select = ${j.select}, mount root ${j.mountRoot}):`);
    const yes = j.datasets.filter((d) => d.selected);
    const no = j.datasets.filter((d) => !d.selected);
    for (const d of yes) out.push(`  + ${d.dataset}    ${d.why}`);
    for (const d of no) out.push(`  - ${d.dataset}    ${d.why}`);
    if (!yes.length) out.push('  (nothing to back up now)');
  }
  ctx.reporter.print(out.join('\n'));
  return 0;
}

export const jobsSpec: CommandSpec = {
  words: ['jobs'],
  mode: 'jobs',
  operands: '[JOB...]',
  summary: 'the datasets each job would back up now, and why',
  about: `Lists each job and the datasets it would back up now, and why (listed, below
a listed one, or the kopiatomic:backup property set locally or inherited
from where). Read-only. With --names, only the job names, one a line.`,
  flags: ['config', 'names', ...JOB_FLAGS, ...OUTPUT_FLAGS],
  check: (operands) => operands,
  completes: 'job',
};
