// systemd units for scheduled runs: per config, one template service whose
// instance is the job, and one timer per job. Every file carries MARK so that
// `schedule remove` deletes only what `schedule install` wrote, and names its
// config (CONFIG_LINE) so that one config's install or remove never touches
// another's units. The default config (kopiatomic.toml) keeps the plain names
// (kopiatomic@.service, kopiatomic-JOB.timer); another config's units are
// kopiatomic.TAG@.service and kopiatomic.TAG-JOB.timer, TAG its file name.

export const MARK = '# Made by `kopiatomic schedule install`; `kopiatomic schedule remove` deletes it.';
export const CONFIG_LINE = '# kopiatomic config: ';
export const SERVICE = 'kopiatomic@.service';

/**
 * The names' prefix for a config: "kopiatomic" for a file named
 * kopiatomic.toml (the default config), else kopiatomic.TAG, TAG its file
 * name without ".toml" (no "-": it separates the prefix from the job in a
 * timer's name). Two configs of one name get one prefix: the second's install
 * is refused, since the units name the config that owns them.
 */
export function unitPrefix(config: string): string {
  const base = config.split('/').pop()!.replace(/\.toml$/, '');
  return base === 'kopiatomic' ? 'kopiatomic' : `kopiatomic.${base.replace(/[^A-Za-z0-9_]/g, '_') || '_'}`;
}

/** The template service of a prefix. */
export function serviceTemplate(prefix = 'kopiatomic'): string {
  return `${prefix}@.service`;
}

/** The config a unit we wrote names; units of an older version name none (null). */
export function configOfUnit(text: string): string | null {
  const line = text.split('\n').find((l) => l.startsWith(CONFIG_LINE));
  return line ? line.slice(CONFIG_LINE.length) : null;
}

/** Job names that are safe as a unit instance, a file name and a shell word. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** systemd-escape(1) for an instance name: "-" and other bytes become \xNN. */
export function escapeInstance(name: string): string {
  return [...Buffer.from(name, 'utf8')]
    .map((b, i) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_:]/.test(c) || (c === '.' && i > 0) ? c : `\\x${b.toString(16).padStart(2, '0')}`;
    })
    .join('');
}

export function serviceName(job: string, prefix = 'kopiatomic'): string {
  return `${prefix}@${escapeInstance(job)}.service`;
}

export function timerName(job: string, prefix = 'kopiatomic'): string {
  return `${prefix}-${job}.timer`;
}

/** One ExecStart word: quoted when needed; % and $ doubled so systemd expands neither. */
export function execWord(w: string): string {
  const e = w.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(e) ? e : `"${e.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The command a scheduled run executes: absolute node and script, so no PATH lookup decides. */
export function runArgv(node: string, script: string, config: string): string[] {
  return [node, script, '--config', config, 'run', '--wait'];
}

// A job's repository checks (check_schedule) have units of their own: the
// template PREFIX-check@.service runs `kopiatomic check JOB`, and the timer
// PREFIX-check@JOB.timer starts it (no backup timer's name holds "@").

/** The command a scheduled check executes. */
export function checkArgv(node: string, script: string, config: string): string[] {
  return [node, script, '--config', config, 'check'];
}

export function checkServiceTemplate(prefix = 'kopiatomic'): string {
  return `${prefix}-check@.service`;
}

export function checkTimerName(job: string, prefix = 'kopiatomic'): string {
  return `${prefix}-check@${escapeInstance(job)}.timer`;
}

export interface ServiceOptions {
  /** The command before the job name (see runArgv); the job is appended as %I. */
  argv: string[];
  /** How long a stop may take: SIGTERM, then kopiatomic cleans up. */
  timeoutStopSec?: string;
  /** The config the units run (absolute), recorded in the file. */
  config?: string;
  /** What it does, for Description= (default: "backup job"). */
  what?: string;
}

const configLine = (config: string | undefined) => (config ? `${CONFIG_LINE}${config}\n` : '');

export function serviceUnit(o: ServiceOptions): string {
  const exec = [...o.argv.map(execWord), '%I'].join(' ');
  return `${MARK}
${configLine(o.config)}[Unit]
Description=kopiatomic ${o.what ?? 'backup job'} %I${o.config ? ` of ${o.config.replace(/%/g, '%%')}` : ''}
# The datasets must be mounted before they can be frozen.
After=zfs-mount.service zfs.target network-online.target
Wants=network-online.target

[Service]
Type=oneshot
# --wait: a late or repeated start waits for the run holding the lock instead of failing.
ExecStart=${exec}
# Secrets for the engine (RESTIC_PASSWORD_FILE, KOPIA_PASSWORD, ...), mode 0600; optional.
EnvironmentFile=-/etc/kopiatomic/%I.env
# A backup may take hours: no start timeout.
TimeoutStartSec=infinity
# systemctl stop: SIGTERM to kopiatomic alone, which forwards it to the engine
# and then removes its snapshots and mounts; only what is still running after
# TimeoutStopSec gets SIGKILL (the next run's recovery then cleans up).
KillMode=mixed
TimeoutStopSec=${o.timeoutStopSec ?? '5min'}
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
UMask=0077

# Hardening, kept to what ZFS snapshots and mounts allow (systemd.exec(5)).
# Root: zfs snapshot/hold/destroy and mount need it.
User=root
# zfs ioctls, mount, umount and unshare need CAP_SYS_ADMIN; reading every file
# needs CAP_DAC_READ_SEARCH; the engine's cache and repository directories need the
# file-owner ones. Nothing else (no network admin, no module loading, no ptrace).
CapabilityBoundingSet=CAP_SYS_ADMIN CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_FOWNER CAP_CHOWN CAP_FSETID
# Nothing we run is setuid.
NoNewPrivileges=yes
# Devices: only /dev/zfs (plus the pseudo devices DevicePolicy=closed keeps:
# null, zero, random, ...). PrivateDevices=yes would hide /dev/zfs: off.
DevicePolicy=closed
DeviceAllow=/dev/zfs rw
# The paths layout backs restic up inside a private mount namespace
# (unshare --mount): mount namespaces allowed, every other kind refused.
RestrictNamespaces=mnt
# Repository servers (kopia server, rest-server, S3) over IP; netlink and unix
# sockets for the system's own tools.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
ProtectClock=yes
ProtectHostname=yes
SystemCallArchitectures=native
# Off, on purpose:
# MemoryDenyWriteExecute: node's JIT compiler writes executable memory.
# SystemCallFilter: mount, umount2, unshare and the ZFS ioctls are all needed;
#   @system-service leaves out @mount, and the bounding set already limits them.
# ProtectSystem, ProtectHome, PrivateTmp, ProtectKernelTunables,
# ProtectKernelModules, ProtectControlGroups, ReadOnlyPaths, PrivateMounts:
#   each puts the service in a mount namespace of its own. The snapshot mounts
#   would then be invisible outside it, so a mount left busy by a stopped run
#   could not be seen or removed by \`kopiatomic cleanup\` or the next run's
#   recovery; ProtectHome would also hide /home, the data itself, and
#   ProtectSystem=strict the engine's repository and cache.
# PrivateNetwork: the repository is often on another host.
`;
}

export interface TimerOptions {
  job: string;
  /** systemd OnCalendar, e.g. "daily", "*-*-* 02:30". */
  schedule: string;
  randomizedDelaySec?: string;
  /** The units' prefix (unitPrefix) and config, as for the service. */
  prefix?: string;
  config?: string;
  /** The service it starts (default: the job's backup service) and what that does. */
  unit?: string;
  what?: string;
}

export function timerUnit(o: TimerOptions): string {
  return `${MARK}
${configLine(o.config)}[Unit]
Description=kopiatomic ${o.what ?? 'backup job'} ${o.job}${o.config ? ` of ${o.config.replace(/%/g, '%%')}` : ''}: schedule

[Timer]
OnCalendar=${o.schedule}
# A run missed while the machine was off starts at the next boot.
Persistent=true
# Spread hosts of a fleet over a window, so that the repository server is not hit at once.
RandomizedDelaySec=${o.randomizedDelaySec ?? '15min'}
Unit=${o.unit ?? serviceName(o.job, o.prefix)}

[Install]
WantedBy=timers.target
`;
}
