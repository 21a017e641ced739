// `kopiatomic exec JOB [--repository NAME] -- ARGS...`: the job's engine
// program (restic, kopia, with the job's global options) run with ARGS and
// the repository's environment, where its secrets are: never in an argv.
// Its stdio is ours, the signals we get reach it, and its exit status is
// ours. Meant for a person at a terminal: the job's nice and io_class are
// not applied.
import { quoteArgv, UsageError } from '../core/errors.js';
import type { CommandSpec } from './command.js';
import type { CommandContext } from './lifecycle.js';
import type { Options } from './options.js';
import { repositoryEnv, repositoryJobs, repositoryOf, runLive, shellCode, verbsOf } from './repository-job.js';

export async function execCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const [name, ...args] = opts.names;
  const [job] = await repositoryJobs(opts, ctx, [name!]);
  const repo = repositoryOf(job!, opts.repository);
  const verbs = verbsOf(job!);
  const argv = [...verbs.base(job!.command, job!.options), ...args];
  ctx.reporter.verbose(`job ${job!.job}, repository ${repo.name}: ${quoteArgv(argv)}`);
  return shellCode(await runLive(ctx, argv, repositoryEnv(repo)));
}

export const execSpec: CommandSpec = {
  words: ['exec'],
  mode: 'exec',
  operands: 'JOB -- ARGS...',
  summary: "run the job's engine with ARGS, its repository's environment and secrets",
  about: `Runs the job's engine program (restic or kopia, with the job's global
options) with ARGS, in the environment of the job's repository (--repository
NAME, default its first): its env and env_files, so the secrets stay out of
every command line. Standard input and output are the terminal's, signals
reach the engine, and the engine's exit status is the command's:
  kopiatomic exec home -- snapshots
  kopiatomic exec home --repository offsite -- mount /mnt/restore`,
  flags: ['repository', 'config', 'verbose', 'quiet'],
  check(operands, _v, afterDash) {
    if (operands.length - afterDash !== 1) throw new UsageError('exec takes one job name, then -- and the arguments for the engine');
    if (!afterDash) throw new UsageError("exec needs the engine's arguments after --: kopiatomic exec JOB -- snapshots");
    return operands;
  },
  completes: 'job',
};
