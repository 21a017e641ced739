import { defaultConfigPath } from '../config/problems.js';
import { statusFileDefault, type Flavour } from '../config/job.js';
import { ENGINES } from '../engine/index.js';

const statusFileHint = () => statusFileDefault();

export function usageLine(f: Flavour): string {
  return [
    `usage: ${f.name} [-ahnrv] [-c CMD] [-o OPTS]... [-p CMD] [-q CMD] [options] DATASET|PATH...`,
    `       ${f.name} [--config FILE] run [-n] [options] [JOB...]`,
    `       ${f.name} [--config FILE] config check | config show [--json] [JOB]`,
    `       ${f.name} [--config FILE] jobs [--json] [JOB...]`,
    `       ${f.name} [--config FILE] status [--json] [--max-age DURATION] [JOB]`,
    `       ${f.name} [--config FILE] schedule install|remove|show [--cron] [JOB]`,
    `       ${f.name} cleanup [-n] [--mount-root DIR]`,
  ].join('\n');
}

export function helpText(f: Flavour): string {
  return `${usageLine(f)}

Atomic backups of ZFS datasets: one snapshot transaction per pool, the
snapshots mounted read-only under ${f.mountRoot}, ${f.engine} run on that frozen
tree, and every snapshot, mount and folder removed again.

Selection:
  -a, --all              every mounted filesystem dataset
  -r, --recursive        also every descendant of each target
      --exclude DATASET  leave out DATASET (or the dataset at a path) and its
                         descendants; repeatable
      --property         the datasets whose kopiatomic:backup property is on
Backup:
      --engine NAME      kopia, restic or command (default ${f.engine}; -c implies it)
  -c, --command CMD      backup command (default: ${ENGINES[f.engine]!.defaultCommand.join(' ')});
                         split into words, quotes honoured
  -o, --options OPTS     options added to the backup command; quotes honoured;
                         repeatable
      --layout tree|paths  tree: one backup of ${f.mountRoot} (default);
                         paths: each dataset under its real path
      --mount-root DIR   where the snapshots are assembled (default ${f.mountRoot})
      --verify[=PERCENT] after the backup, restore it and compare it with the
                         frozen tree: every name and its metadata, and the
                         contents of PERCENT% of the files (default 100)
      --verify-command CMD  the command engine's restore: CMD ROOT DIR must
                         restore the backup of ROOT into DIR
Hooks (run with /bin/sh -c):
  -p, --pre CMD          before anything is snapshotted; failure stops the run
  -q, --post CMD         last, always; sees KOPIATOMIC_STATUS
Run:
  -n, --dry-run          print every command the run would run; change nothing
      --json             one JSON event per line on stdout
      --verbose          print every command as it runs
      --quiet            only warnings and errors
      --wait[=SECONDS]   wait for another run on this mount root (default: exit 6)
      --kill-after SECONDS  after a signal, SIGKILL an engine or hook that has
                         not exited within SECONDS (default 30; 0 = never)
      --zfs-timeout SECONDS  kill a zfs, zpool, mount or umount command not done
                         within SECONDS and stop with exit 9 (default 600; 0 = never)
      --config FILE      the configuration file for run, config, jobs, status
                         and schedule (default ${defaultConfigPath()}, plus conf.d/*.toml)
Monitoring:
      --metrics-file FILE  Prometheus textfile metrics of each run (job label)
      --ping-url URL     Healthchecks-style pings: URL/start, URL, URL/fail;
                         {status} {exit_code} {job} {message} make it a template
      --status-file FILE the last run of each job (default ${statusFileHint()})
  -v, --version          print the version
  -h, --help             this help

Commands:
  run [JOB...]           run the configured jobs (all when none is named), one
                         after the other; flags given here override the jobs'
  config check           validate the configuration (file:line:column, exit 2)
  config show [JOB]      the jobs as resolved, secrets masked
  jobs [JOB...]          the datasets each job would back up now, and why
  status [JOB]           each job's last run; exit 0 ok, 1 too old, 2 failed,
                         3 never ran or unknown (Nagios-style)
  schedule install|remove|show [JOB]
                         systemd timers (Linux), periodic(8) (FreeBSD), or
                         cron lines with show --cron
  cleanup                undo what earlier runs left behind

Exit codes: 0 ok, 1 backup failed, 2 bad usage, 3 partial backup, 4 setup
failed, 5 cleanup incomplete, 6 another run holds the lock, 7 post hook failed,
8 verification could not run, 128+N interrupted by signal N (129 HUP,
130 INT, 143 TERM). A verification that finds a difference exits 1.`;
}
