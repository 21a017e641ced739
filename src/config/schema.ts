// The configuration file's schema: the one source of every key's name, type,
// default and help. The loader validates against it, `config show` and the
// README describe what it says, and `npm run build` writes it out as a JSON
// Schema for editors (schema/kopiatomic.schema.json).
import { z } from 'zod';
import { isDuration, parseDuration } from '../core/duration.js';
import { isCalendar } from '../core/calendar.js';

// One parse per run: compiling a fast parser for each schema (the library's
// default) costs more than it saves.
z.config({ jitless: true });

/** A job's name: also a value of the kopiatomic:backup property, so no commas or spaces. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Property values with a meaning of their own: not usable as job names. */
export const RESERVED_JOB_NAMES = ['on', 'off', 'true', 'false', 'default'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const words = z.union([z.string(), z.array(z.string())]);
const absPath = z.string().regex(/^\//, 'must be an absolute path');

/** What the job's help and the JSON Schema say about each key, with its default when it has a fixed one. */
function key<T extends z.ZodType>(schema: T, description: string, dflt?: unknown) {
  return schema.optional().meta(dflt === undefined ? { description } : { description, default: dflt as never });
}

/** A time span: whole seconds, or a duration string in the grammar of the flags and `max_age`. */
function seconds() {
  return z.union([z.number().int().min(0), z.string().refine(isDuration, 'must be a number of seconds or a duration such as "90s", "10m" or "1h30m"')]);
}

const ENV = z.record(z.string().regex(ENV_NAME, 'not an environment variable name'), z.string());
const ENV_FILES = z.record(z.string().regex(ENV_NAME, 'not an environment variable name'), absPath);

/** A repository name: a metrics label value and a word on the command line. */
export const REPOSITORY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const REPOSITORY = z
  .strictObject({
    name: z.string().regex(REPOSITORY_NAME, 'a repository name is letters, digits, "_", "." and "-", starting with a letter or digit'),
    env: ENV.optional().meta({ description: "This repository's environment, merged over the job's env (RESTIC_REPOSITORY, KOPIA_CONFIG_PATH, ...)." }),
    env_files: ENV_FILES.optional().meta({ description: "This repository's secrets read from files, merged over the job's env_files." }),
  })
  .meta({ description: 'One repository the job backs up to: [[jobs.NAME.repositories]].' });

const keep = (what: string) => z.number().int().min(0).optional().meta({ description: `Keep the newest snapshot of each of the last N ${what}.` });
const RETENTION = z
  .strictObject({
    keep_last: z.number().int().min(0).optional().meta({ description: "Keep the job's N newest snapshots." }),
    keep_hourly: keep('hours'),
    keep_daily: keep('days'),
    keep_weekly: keep('weeks'),
    keep_monthly: keep('months'),
    keep_yearly: keep('years'),
    prune: z.boolean().optional().meta({ description: 'restic: also remove the data no snapshot uses any more (forget --prune). kopia collects garbage in its own maintenance.', default: false }),
  })
  .meta({ description: "Which of the job's snapshots each repository keeps; applied after each successful backup and by `kopiatomic forget`." });

/** Keys a job can set; [defaults] takes the same keys, and jobs inherit them. */
export const JOB_KEYS = {
  datasets: key(z.array(z.string().min(1)), 'Datasets (tank/home) or their mount points (/home) to back up; with select = "datasets".'),
  select: key(
    z.enum(['datasets', 'property', 'all']),
    'How datasets are chosen: "datasets" (the list), "property" (those whose kopiatomic:backup property selects this job: on/true, or a comma-separated list naming it; inherited as ZFS inherits), "all" (every filesystem).',
    'datasets',
  ),
  recursive: key(z.boolean(), 'Also back up every descendant of each listed dataset.', false),
  exclude: key(z.array(z.string().min(1)), 'Datasets or mount points left out, with their descendants.', []),
  engine: key(z.enum(['kopia', 'restic', 'command']), 'The backup engine (default: kopia for kopiatomic, restic for restomic, or what `command` names).'),
  command: key(words, 'The backup command: a string split into words (quotes honoured) or an array of words (default: "kopia snapshot create" / "restic backup").'),
  options: key(words, 'Options added to the backup command: a string split into words, or an array of words.', []),
  layout: key(z.enum(['tree', 'paths']), '"tree": one backup of the mount root; "paths": each dataset under its real mount point.', 'tree'),
  mount_root: key(absPath, 'Where the snapshots are assembled (default: /restic for the restic engine, /kopia otherwise); never under /tmp or /var/tmp. Jobs that share one run one at a time.'),
  pre_hook: key(z.string(), 'Shell command run before anything is snapshotted; if it fails the job stops (exit 4).'),
  post_hook: key(z.string(), 'Shell command run last, always, with KOPIATOMIC_STATUS and KOPIATOMIC_EXIT_CODE.'),
  env: key(
    ENV,
    'Environment for the backup engine (RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, KOPIA_CONFIG_PATH, ...). A secret here (a secret variable such as RESTIC_PASSWORD or AWS_SECRET_ACCESS_KEY, or a URL with user info such as rest:https://user:password@host/; see "Secrets" in the README) is masked wherever it is shown, and makes the file refuse to load when group or others can read it.',
    {},
  ),
  env_files: key(
    ENV_FILES,
    'Environment for the backup engine read from files: NAME = "/root/secret" sets NAME to the file\'s content (one trailing newline dropped). The way to give a secret such as KOPIA_PASSWORD.',
    {},
  ),
  metrics_file: key(absPath, 'Prometheus textfile to write after each run (node_exporter textfile collector).'),
  ping_url: key(z.string().url(), 'Healthchecks-style URL pinged at start and end (a secret: masked wherever it is shown).'),
  max_age: key(z.string().refine(isDuration, 'must be a duration such as "26h", "2d", "1.5h", "1h 30m" or "3600" (seconds), as `status --max-age` takes'), 'How old the last successful backup may be before status reports it as stale ("26h", "2d").'),
  schedule: key(z.string().refine(isCalendar, 'must be a systemd OnCalendar time that cron can run too: "daily", "*-*-* 02:30", "Mon..Fri 02:30", "Sun *-*-* 04:00", "*-*-01 03:00"'), 'When the job runs, as a systemd OnCalendar expression (used by `kopiatomic schedule`).', 'daily'),
  verify: key(
    z.union([z.number().min(0).max(100), z.boolean()]),
    'Verify the backup against the frozen snapshot: a percentage of files (0-100), true = 100, false = 0.',
    false,
  ),
  verify_command: key(words, 'Command used to read the backup back for verification, a string split into words or an array (default: the engine\'s own).'),
  repositories: key(
    z.array(REPOSITORY).min(1).refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'each repository needs a name of its own'),
    'The repositories the job backs up to, in order, all from the same frozen snapshots; each one\'s env and env_files are merged over the job\'s. Without it the job\'s env names the one repository.',
  ),
  retention: key(RETENTION, "Which of the job's snapshots to keep in each repository (restic forget, scoped to the job's tag and this host; kopia: the source's policy)."),
  check_schedule: key(z.string().refine(isCalendar, 'must be a systemd OnCalendar time that cron can run too: "weekly", "Sun *-*-* 04:00"'), 'When `kopiatomic check` runs for this job, as a systemd OnCalendar expression (used by `kopiatomic schedule`); none: no scheduled check.'),
  nice: key(z.number().int().min(-20).max(19), "The engine's CPU priority (nice value, -20..19).", 0),
  io_class: key(z.enum(['idle', 'best-effort']), "The engine's I/O scheduling class (Linux ionice; ignored on FreeBSD).", 'best-effort'),
  kill_after: key(seconds(), 'How long a signalled engine or hook may take to exit before SIGKILL (seconds, or a duration such as "90s", "2m"); 0 = never.', 30),
  zfs_timeout: key(seconds(), 'How long one zfs, zpool, mount or umount command may run before it is killed and the run stops with exit 9 (a suspended pool hangs them); for a batch mount or unmount, how long it may go without finishing a target: seconds, or a duration such as "10m"; 0 = never.', 600),
};

const STATUS_FILE = key(absPath, 'Where each run records its result (default /var/lib/kopiatomic/status.json; FreeBSD /var/db/kopiatomic/status.json).');

export const JobSchema = z.strictObject(JOB_KEYS).meta({ description: 'One backup job: what to back up, with which engine, where.' });
export const DefaultsSchema = z.strictObject({ ...JOB_KEYS, status_file: STATUS_FILE }).meta({ description: 'Settings every job inherits unless it sets them itself.' });

export const ConfigSchema = z
  .strictObject({
    status_file: STATUS_FILE,
    defaults: DefaultsSchema.optional(),
    jobs: z
      .record(
        z
          .string()
          .regex(JOB_NAME, 'a job name is letters, digits, "_", "." and "-", starting with a letter or digit')
          .refine((n) => !RESERVED_JOB_NAMES.includes(n), { message: `a job cannot be named ${RESERVED_JOB_NAMES.join(', ')}` }),
        JobSchema,
      )
      .optional()
      .meta({ description: 'The jobs, by name: [jobs.NAME].' }),
  })
  .meta({ title: 'kopiatomic configuration', description: 'kopiatomic.toml and conf.d/*.toml' });

export type JobConfig = z.infer<typeof JobSchema>;
export type DefaultsConfig = z.infer<typeof DefaultsSchema>;
export type Config = z.infer<typeof ConfigSchema>;

/** Every key a table may hold, for "did you mean". */
export const KNOWN_KEYS = {
  top: Object.keys(ConfigSchema.shape),
  job: Object.keys(JOB_KEYS),
  defaults: Object.keys(DefaultsSchema.shape),
};

export function jsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ConfigSchema) as Record<string, unknown>;
}

/** The help line of a job key, from the schema. */
export function helpOf(k: keyof typeof JOB_KEYS): string {
  return (JOB_KEYS[k].meta()?.description as string | undefined) ?? '';
}

/** "26h" -> 93600 seconds (the same reading as `status --max-age`). */
export const durationSeconds = parseDuration;
