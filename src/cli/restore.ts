// `kopiatomic restore JOB [--repository NAME] [--snapshot ID] --target DIR
// [PATH...]`: the job's newest snapshot in that repository (found by the job
// tag on this host, never the repository's "latest"), or the one named,
// restored into DIR, which must be absent or empty. PATHs are the real
// paths (/tank/home/alice/docs), found where the layout put them in the
// backup (engine/restore-paths.ts); each is restored at that place under DIR,
// as the engine restores it (restic: DIR/restic/tank/home/alice/docs in the
// tree layout). -n prints the engine's commands and writes nothing.
import { hostname } from 'node:os';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { EXIT } from '../core/exit-status.js';
import { quoteArgv, UsageError } from '../core/errors.js';
import { enginePrefix } from '../engine/priority.js';
import { checkRootPath, ensureRootDir } from '../safety/root-path.js';
import { checkRestorePath, chooseRestore } from '../engine/restore-paths.js';
import type { CommandSpec } from './command.js';
import { OUTPUT_FLAGS } from './flags.js';
import type { CommandContext } from './lifecycle.js';
import type { Options } from './options.js';
import { repositoryEnv, repositoryJobs, repositoryOf, runLive, shellCode, verbsOf } from './repository-job.js';

/**
 * The target must be absent or an empty directory: a restore never mixes with
 * what is there. Root writes the whole restore there, so the place is judged
 * by the one rule of where root may write (safety/root-path.ts): a directory
 * on the way that another account owns or can write could be swapped for a
 * link between this check and the engine's writes.
 */
export function checkTarget(dir: string): void {
  const place = checkRootPath(dir, { what: 'restore target', directory: true, noFinalLink: true });
  if (place.problem) throw new UsageError(place.problem);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UsageError(`cannot use ${dir} as the restore target: ${(e as Error).message}`);
  }
  if (!st.isDirectory()) throw new UsageError(`the restore target ${dir} exists and is not a directory`);
  if (readdirSync(dir).length) throw new UsageError(`the restore target ${dir} is not empty: restore into an empty or new directory`);
}

export async function restoreCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { reporter } = ctx;
  const [name, ...given] = opts.names;
  if (opts.target === null) throw new UsageError('restore needs --target DIR: an empty or new directory');
  const target = resolve(opts.target);
  const paths = given.map(checkRestorePath);
  checkTarget(target);
  const [job] = await repositoryJobs(opts, ctx, [name!]);
  const repo = repositoryOf(job!, opts.repository);
  const verbs = verbsOf(job!);
  const env = repositoryEnv(repo);
  const base = verbs.base(job!.command, job!.options);
  // Read-only, also in a dry run: which snapshot is restored is what -n shows.
  const listed = await ctx.runner.run(verbs.snapshots(base, job!.job, hostname()), { env });
  const what = `job ${job!.job} in repository ${repo.name}`;
  const chosen = chooseRestore(verbs.parseSnapshots(listed.stdout), {
    snapshotId: opts.snapshotId,
    paths,
    tree: job!.engine.needsTree(job!.layout, ctx.platform),
    mountRoot: job!.mountRoot,
  }, what);
  const prefix = enginePrefix(job!, ctx.platform.name, (m) => reporter.warn(m));
  const calls = chosen.flatMap((c) => verbs.restore(base, c.snap, target, c.inside)).map((argv) => [...prefix, ...argv]);
  for (const c of chosen) reporter.info(`${what}: snapshot ${c.snap.id} of ${c.snap.time}`);
  if (opts.dryRun) {
    for (const argv of calls) reporter.print(quoteArgv(argv));
    return EXIT.ok;
  }
  checkTarget(target);
  // Made by us, one mkdir per missing directory, so the engine writes into a root-owned directory.
  ensureRootDir(target, 'restore target');
  for (const argv of calls) {
    reporter.info(`restoring: ${quoteArgv(argv)}`);
    const r = await runLive(ctx, argv, env);
    if (r.code !== 0 || r.signal) {
      reporter.error(`${job!.engine.noun} exited with ${r.signal ?? r.code}: the restore into ${target} is incomplete`);
      return ctx.interrupt.signal ? shellCode(r) : EXIT.backupFailed;
    }
  }
  // An engine restores nothing, and says nothing, for a path its snapshot does not hold.
  const missing = chosen.flatMap((c) => c.inside).filter((p) => !existsSync(posix.join(target, p)));
  for (const p of missing) reporter.error(`${p} is not in the snapshot: nothing was restored for it`);
  if (missing.length) return EXIT.backupFailed;
  reporter.info(`restored into ${target}`);
  return EXIT.ok;
}

export const restoreSpec: CommandSpec = {
  words: ['restore'],
  mode: 'restore',
  operands: 'JOB [PATH...]',
  summary: "restore the job's newest (or a given) snapshot into an empty directory",
  about: `Restores the job's newest snapshot in its repository (--repository NAME,
default its first; --snapshot ID for another of the job's snapshots) into
--target DIR, which must be absent or empty. PATHs are the real paths of
the data (/tank/home/alice/docs), found where the job's layout put them in
the backup; each lands at its place inside the backup under DIR (restic,
tree layout: DIR/restic/tank/home/alice/docs). Only this host's snapshots
of the job are considered. -n prints the engine's commands. Exit codes: 0
restored, 1 the engine failed, 2 bad usage (a non-empty target, an unknown
repository, snapshot or path).`,
  flags: ['repository', 'snapshot', 'target', 'dry-run', 'config', ...OUTPUT_FLAGS],
  check(operands) {
    if (!operands.length) throw new UsageError('restore needs a job name');
    return operands;
  },
  completes: 'job',
};
