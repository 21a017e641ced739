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
    z.record(z.string().regex(ENV_NAME, 'not an environment variable name'), z.string()),
    'Environment for the backup engine (RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, KOPIA_CONFIG_PATH, ...). A secret here (a secret variable such as RESTIC_PASSWORD or AWS_SECRET_ACCESS_KEY, or a URL with user info such as rest:https://user:password@host/; see "Secrets" in the README) is masked wherever it is shown, and makes the file refuse to load when group or others can read it.',
    {},
  ),
  env_files: key(
    z.record(z.string().regex(ENV_NAME, 'not an environment variable name'), absPath),
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
  kill_after: key(seconds(), 'How long a signalled engine or hook may take to exit before SIGKILL (seconds, or a duration such as "90s", "2m"); 0 = never.', 30),
  zfs_timeout: key(seconds(), 'How long one zfs, zpool, mount or umount command may run before it is killed and the run stops with exit 9 (a suspended pool hangs them): seconds, or a duration such as "10m"; 0 = never.', 600),
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
