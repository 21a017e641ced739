// The command line's help, suggestions and per-command flags (cli/args.ts,
// cli/help.ts, each command's declaration).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/args.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { FLAG, FLAGS, GENERAL_FLAGS } from '../../src/cli/flags.js';
import { helpText } from '../../src/cli/help.js';
import { KOPIATOMIC, RESTOMIC } from '../../src/config/job.js';
import { didYouMean } from '../../src/core/did-you-mean.js';
import { UsageError } from '../../src/core/errors.js';

const k = (...argv: string[]) => parseCommandLine(argv, KOPIATOMIC);
const usage = (argv: string[], re: RegExp) =>
  assert.throws(() => parseCommandLine(argv, KOPIATOMIC), (e: unknown) => e instanceof UsageError && re.test(e.message), `expected UsageError ${re} for ${JSON.stringify(argv)}`);

test('help [COMMAND] and COMMAND --help / -h ask for that command', () => {
  assert.deepEqual([k('help').mode, k('help').topic], ['help', []]);
  assert.deepEqual(k('help', 'run').topic, ['run']);
  assert.deepEqual(k('help', 'config').topic, ['config']);
  assert.deepEqual(k('help', 'config', 'show').topic, ['config', 'show']);
  assert.deepEqual(k('run', '--help').topic, ['run']);
  assert.deepEqual(k('status', '-h').topic, ['status']);
  assert.deepEqual(k('config', 'check', '-h').topic, ['config', 'check']);
  assert.deepEqual(k('config', '--help').topic, ['config']);
  assert.deepEqual(k('schedule', '-h').topic, ['schedule']);
  assert.deepEqual(k('-h').topic, []);
  assert.deepEqual(k('-r', 'tank', '--help').topic, []);
  // A pool called "help" is still named after --.
  assert.deepEqual(k('--', 'help').targets, ['help']);
  assert.equal(k('--', 'help').mode, 'backup');
  usage(['help', 'frob'], /help: no command "frob"/);
  usage(['help', 'staus'], /did you mean status\?/);
  usage(['help', 'config', 'frob'], /no command "config frob"/);
});

test('the help texts: each command its own usage and flags, the program all of them', () => {
  const all = helpText(COMMANDS, KOPIATOMIC);
  for (const c of COMMANDS.filter((c) => c.words.length)) assert.ok(all.includes(`kopiatomic ${c.words.join(' ')}`), c.words.join(' '));
  assert.match(all, /-o, --options OPTS/);
  assert.match(all, /Exit codes:/);
  const run = helpText(COMMANDS, KOPIATOMIC, ['run']);
  assert.match(run, /^usage: kopiatomic run \[options\] \[JOB\.\.\.\]/);
  assert.match(run, /--config FILE/);
  assert.match(run, /-n, --dry-run/);
  assert.doesNotMatch(run, /--cron|--max-age|--names/);
  const status = helpText(COMMANDS, KOPIATOMIC, ['status']);
  assert.match(status, /--max-age DURATION/);
  assert.doesNotMatch(status, /--recursive|--dry-run/);
  const config = helpText(COMMANDS, KOPIATOMIC, ['config']);
  assert.match(config, /usage: kopiatomic config check/);
  assert.match(config, /usage: kopiatomic config show/);
  assert.match(helpText(COMMANDS, RESTOMIC, []), /mounted read-only under \/restic, restic run/);
  assert.ok(run.split('\n').length < all.split('\n').length);
  for (const line of all.split('\n')) assert.ok(line.length <= 100, line);
});

test('did you mean: commands, subcommands and flags', () => {
  usage(['staus'], /unknown command "staus" \(did you mean status\?\).*-- staus/);
  usage(['cleanpu'], /did you mean cleanup\?/);
  usage(['--hlep'], /unknown option '--hlep' \(did you mean --help\?\)/);
  usage(['--dryrun', 'tank'], /did you mean --dry-run\?/);
  usage(['run', '--mount-rot', '/x'], /did you mean --mount-root\?/);
  usage(['config', 'chek'], /config needs check or show, not "chek" \(did you mean check\?\)/);
  usage(['schedule', 'instal'], /schedule needs install, remove or show, not "instal" \(did you mean install\?\)/);
  usage(['schedule'], /schedule needs install, remove or show$/);
  // Datasets and paths are not commands, however close.
  assert.deepEqual(k('tank/status').targets, ['tank/status']);
  assert.deepEqual(k('/srv/run').targets, ['/srv/run']);
  assert.deepEqual(k('tank', 'staus').targets, ['tank', 'staus']);
  assert.deepEqual(k('--', 'staus').targets, ['staus']);
  assert.deepEqual(k('data').targets, ['data']);
  assert.deepEqual(k('home').targets, ['home']);
  assert.equal(didYouMean('--frobnicate', ['--help', '--all']), null);
});

test('a flag the command does not take is a usage error naming the commands that do', () => {
  usage(['config', 'check', '-c', 'foo'], /--command goes with the flag form, run, config show and jobs, not with config check/);
  usage(['config', 'check', '-r'], /-r goes with .*not with config check/);
  usage(['status', '-n'], /-n goes with the flag form, run, check, restore, cleanup and forget, not with status/);
  usage(['status', '--cron'], /--cron goes with schedule show, not with status/);
  usage(['schedule', 'install', '--cron'], /--cron goes with schedule show, not with schedule install/);
  usage(['run', '--max-age', '1h'], /--max-age goes with status, not with run/);
  usage(['-a', '--max-age', '1h'], /--max-age goes with status, not with the flag form/);
  usage(['cleanup', '--recursive'], /--recursive goes with/);
  usage(['cleanup', '--config', '/c'], /--config goes with run, config, jobs, status, schedule, check, exec, restore and forget \(the flag form reads no configuration file\), not with cleanup/);
  usage(['-r', 'tank', '--names'], /--names goes with jobs/);
  usage(['help', '--json'], /--json goes with/);
  usage(['jobs', '--wait'], /--wait goes with the flag form, run and cleanup/);
  // run takes the job-override flags; the flag form the original script's.
  const r = k('run', '-a', '-r', '-n', '-c', 'restic backup', '-o', '--tag x', '-p', 'true', '-q', 'true', '--wait', '--kill-after', '5', '--verify', 'home');
  assert.deepEqual([r.mode, r.names, r.wait, r.killAfter, r.verifyPercent], ['run', ['home'], Infinity, 5, 100]);
  assert.deepEqual(r.options, ['--tag', 'x']);
  const f = k('-arn', '-c', 'restic backup', '-o', '--tag x', '-p', 'a', '-q', 'b', '--wait=3');
  assert.deepEqual([f.mode, f.all, f.recursive, f.dryRun, f.wait], ['backup', true, true, true, 3]);
  // Flags before the command's word count as the command's.
  assert.equal(k('--mount-root', '/srv/k', 'cleanup').mountRoot, '/srv/k');
  assert.equal(k('--config', '/c.toml', 'status', '--max-age', '2h').maxAge, '2h');
  assert.equal(k('schedule', 'show', '--cron').cron, true);
  assert.deepEqual(k('schedule', 'show', 'home').names, ['show', 'home']);
  usage(['schedule', 'show', 'a', 'b'], /schedule takes at most one job name/);
  // -h and -v still work anywhere.
  assert.equal(k('status', '-v').mode, 'version');
});

test('jobs --names', () => {
  const o = k('--config', '/c.toml', 'jobs', '--names');
  assert.deepEqual([o.mode, o.listNames, o.configFile], ['jobs', true, '/c.toml']);
  assert.equal(k('jobs').listNames, false);
});

test('the flag table and the commands agree', () => {
  const used = new Set<string>([...GENERAL_FLAGS]);
  for (const c of COMMANDS) for (const f of c.flags) {
    assert.ok(FLAG.has(f), `${c.words.join(' ')} takes --${f}, which is not in the flag table`);
    used.add(f);
  }
  for (const f of FLAGS) assert.ok(used.has(f.long), `--${f.long} is taken by no command`);
  const shorts = FLAGS.filter((f) => f.short).map((f) => f.short);
  assert.equal(new Set(shorts).size, shorts.length);
  // The original script's short flags.
  assert.deepEqual(shorts.sort(), ['a', 'c', 'h', 'n', 'o', 'p', 'q', 'r', 'v']);
});

/** main() with stdout and stderr caught: [exit code, stdout, stderr]. */
async function mainOf(argv: string[]): Promise<[number, string, string]> {
  const { main } = await import('../../src/cli/main.js');
  let out = '';
  let err = '';
  const [o, e] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return [await main(argv, KOPIATOMIC), out, err];
  } finally {
    [process.stdout.write, process.stderr.write] = [o, e];
  }
}

test('main: help prints the command help (exit 0); bad usage exits 2, and 3 for status (a monitoring check)', async () => {
  const [code, out] = await mainOf(['help', 'run']);
  assert.equal(code, 0);
  assert.match(out, /^usage: kopiatomic run \[options\] \[JOB\.\.\.\]/);
  const [c2, out2] = await mainOf(['jobs', '--help']);
  assert.equal(c2, 0);
  assert.match(out2, /--names/);
  const [c3, , err3] = await mainOf(['config', 'check', '-c', 'foo']);
  assert.equal(c3, 2);
  assert.match(err3, /--command goes with/);
  assert.match(err3, /usage: kopiatomic config check/);
  const [c4, , err4] = await mainOf(['--config', '/c.toml', 'status', '-n']);
  assert.equal(c4, 3, 'UNKNOWN');
  assert.match(err4, /-n goes with/);
  assert.match(err4, /usage: kopiatomic status/);
  const [c5, , err5] = await mainOf(['--hlep']);
  assert.equal(c5, 2);
  assert.match(err5, /did you mean --help\?/);
  assert.equal((await mainOf(['--', 'status', '--max-age', '1h']))[0], 2, 'a dataset called status after --: the flag form takes no --max-age');
});
