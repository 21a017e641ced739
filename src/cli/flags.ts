// Every flag of both programs, once: the parser (cli/args.ts), the help
// (cli/help.ts), the man pages and the shell completions (cli/reference/)
// are all made from this table, so none of them can drift from the others.
// Which command takes which flag is said by each command's own file.

/** What a shell completes for a flag's value. */
export type Completion = 'file' | 'dir' | 'program' | 'dataset' | 'none' | readonly string[];

export interface Flag {
  long: string;
  short?: string;
  /** The value's name in help (CMD, FILE...); none = a switch. */
  value?: string;
  /** The value may be left out (--wait, --verify); this is what a bare flag means. */
  bare?: string;
  multiple?: boolean;
  group: Group;
  /** Help text; {name} {mountRoot} {engine} {command} {config} {statusFile} are the program's own. */
  help: string;
  complete?: Completion;
}

export const GROUPS = ['Selection', 'Backup', 'Hooks (run with /bin/sh -c)', 'Run', 'Configuration', 'Monitoring', 'Status', 'Schedule', 'Jobs', 'Repository', 'General'] as const;
export type Group = (typeof GROUPS)[number];

export const FLAGS: readonly Flag[] = [
  { long: 'all', short: 'a', group: 'Selection', help: 'every mounted filesystem dataset' },
  { long: 'recursive', short: 'r', group: 'Selection', help: 'also every descendant of each target' },
  { long: 'exclude', value: 'DATASET', multiple: true, group: 'Selection', complete: 'dataset', help: 'leave out DATASET (or the dataset at a path) and its descendants; repeatable' },
  { long: 'property', group: 'Selection', help: 'the datasets whose kopiatomic:backup property is on' },
  { long: 'engine', value: 'NAME', group: 'Backup', complete: ['kopia', 'restic', 'command'], help: 'kopia, restic or command (default {engine}; -c implies it)' },
  { long: 'command', short: 'c', value: 'CMD', group: 'Backup', complete: 'program', help: 'backup command (default: {command}); split into words, quotes honoured' },
  { long: 'options', short: 'o', value: 'OPTS', multiple: true, group: 'Backup', complete: 'none', help: 'options added to the backup command; quotes honoured; repeatable; a value may start with -' },
  { long: 'layout', value: 'tree|paths', group: 'Backup', complete: ['tree', 'paths'], help: 'tree: one backup of the mount root (default); paths: each dataset under its real path' },
  { long: 'mount-root', value: 'DIR', group: 'Backup', complete: 'dir', help: 'where the snapshots are assembled (default {mountRoot})' },
  { long: 'verify', value: 'PERCENT', bare: '100', group: 'Backup', complete: 'none', help: 'after the backup, restore it and compare it with the frozen tree: every name and its metadata, and the contents of PERCENT% of the files (default 100)' },
  { long: 'verify-command', value: 'CMD', group: 'Backup', complete: 'program', help: "the command engine's restore: CMD ROOT DIR must restore the backup of ROOT into DIR" },
  { long: 'pre', short: 'p', value: 'CMD', group: 'Hooks (run with /bin/sh -c)', complete: 'program', help: 'before anything is snapshotted; failure stops the run' },
  { long: 'post', short: 'q', value: 'CMD', group: 'Hooks (run with /bin/sh -c)', complete: 'program', help: 'last, always; sees KOPIATOMIC_STATUS' },
  { long: 'dry-run', short: 'n', group: 'Run', help: 'print every command the run would run; change nothing' },
  { long: 'json', group: 'Run', help: 'one JSON event per line on stdout' },
  { long: 'verbose', group: 'Run', help: 'print every command as it runs' },
  { long: 'quiet', group: 'Run', help: 'only warnings and errors' },
  { long: 'wait', value: 'DURATION', bare: 'forever', group: 'Run', complete: 'none', help: 'wait for another run on this mount root (seconds, or 90s, 10m, 1h30m; default: exit 6; bare: as long as it takes)' },
  { long: 'kill-after', value: 'DURATION', group: 'Run', complete: 'none', help: 'after a signal, SIGKILL an engine or hook that has not exited within DURATION (seconds, or 90s, 10m; default 30; 0 = never)' },
  { long: 'zfs-timeout', value: 'DURATION', group: 'Run', complete: 'none', help: 'kill a zfs, zpool, mount or umount command not done within DURATION (a batch mount or unmount: with no target done within it) and stop with exit 9 (seconds, or 90s, 10m; default 600; 0 = never)' },
  { long: 'config', value: 'FILE', group: 'Configuration', complete: 'file', help: 'the configuration file (default {config}, plus conf.d/*.toml)' },
  { long: 'metrics-file', value: 'FILE', group: 'Monitoring', complete: 'file', help: 'Prometheus textfile metrics of each run (job label)' },
  { long: 'ping-url', value: 'URL', group: 'Monitoring', complete: 'none', help: 'Healthchecks-style pings: URL/start, URL, URL/fail; {status} {exit_code} {job} {message} make it a template' },
  { long: 'status-file', value: 'FILE', group: 'Monitoring', complete: 'file', help: 'the last run of each job (default {statusFile})' },
  { long: 'max-age', value: 'DURATION', group: 'Status', complete: 'none', help: "a last run older than DURATION (90m, 1.5h, 3600, \"1h 30m\") is a warning; overrides every job's max_age" },
  { long: 'cron', group: 'Schedule', help: 'print cron lines instead of systemd or periodic(8) units' },
  { long: 'names', group: 'Jobs', help: 'print only the names of the jobs, one a line (reads no zfs)' },
  { long: 'read-data', value: 'PERCENT', bare: '100', group: 'Repository', complete: 'none', help: 'also read back PERCENT% of the data and check it (default 100): restic --read-data-subset, kopia --verify-files-percent' },
  { long: 'repository', value: 'NAME', group: 'Repository', complete: 'none', help: "the job's repository named NAME (default: its first)" },
  { long: 'snapshot', value: 'ID', group: 'Repository', complete: 'none', help: "this snapshot of the job (default: the job's newest)" },
  { long: 'target', value: 'DIR', group: 'Repository', complete: 'dir', help: 'restore into DIR, which must be absent or empty' },
  { long: 'version', short: 'v', group: 'General', help: 'print the version' },
  { long: 'help', short: 'h', group: 'General', help: 'this help' },
];

export const FLAG: ReadonlyMap<string, Flag> = new Map(FLAGS.map((f) => [f.long, f]));

/** Taken by every command. */
export const GENERAL_FLAGS = ['help', 'version'] as const;
/** How much is printed, and how. */
export const OUTPUT_FLAGS = ['json', 'verbose', 'quiet'] as const;
/**
 * A job's settings: the flag form's whole run, and, given to `run` (or to
 * `jobs` and `config show`, which show what `run` would do), they override
 * the configuration's values for every job.
 */
export const JOB_FLAGS = [
  'all', 'recursive', 'exclude', 'property', 'engine', 'command', 'options', 'layout', 'mount-root', 'verify', 'verify-command',
  'pre', 'post', 'kill-after', 'zfs-timeout', 'metrics-file', 'ping-url', 'status-file',
] as const;

/** The program's own words for the {…} of the help texts. */
export interface HelpWords {
  name: string;
  mountRoot: string;
  engine: string;
  command: string;
  config: string;
  statusFile: string;
}

export function fillHelp(text: string, w: HelpWords): string {
  return text.replace(/\{(name|mountRoot|engine|command|config|statusFile)\}/g, (_, k: keyof HelpWords) => w[k]);
}

/** How a flag is written in a usage line or help: `-c, --command CMD`, `--wait[=SECONDS]`. */
export function flagSyntax(f: Flag): string {
  const value = f.value === undefined ? '' : f.bare !== undefined ? `[=${f.value}]` : ` ${f.value}`;
  return `${f.short ? `-${f.short}, ` : '    '}--${f.long}${value}`;
}
