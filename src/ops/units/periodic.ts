// FreeBSD periodic(8): a daily script that runs the jobs and reports into the
// daily mail, and a weekly one for the jobs' repository checks (periodic has
// no finer calendar than daily, weekly, monthly). Enabled in /etc/periodic.conf
// like the base system's scripts.
import { CRON_PATH } from './cron.js';
import { checkArgv, CONFIG_LINE, MARK, runArgv } from './systemd.js';

export const PERIODIC_SCRIPT = '/usr/local/etc/periodic/daily/900.kopiatomic';
export const PERIODIC_CHECK_SCRIPT = '/usr/local/etc/periodic/weekly/900.kopiatomic-check';

const shQuote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

/** The script of a config: the plain name for the default config, 900.kopiatomic.TAG for another (TAG: ops/units/systemd.ts unitPrefix). */
export function periodicPath(prefix: string, base = PERIODIC_SCRIPT): string {
  return prefix === 'kopiatomic' ? base : `${base}${prefix.slice('kopiatomic'.length)}`;
}

export function periodicScript(o: { node: string; script: string; config: string; jobs: string[]; prefix?: string; check?: boolean }): string {
  // Each config's script has its own periodic.conf variables: daily_kopiatomic_TAG_enable,
  // and weekly_kopiatomic_TAG_check_enable for its checks.
  const v = o.check ? `weekly_${(o.prefix ?? 'kopiatomic').replace(/\./g, '_')}_check` : `daily_${(o.prefix ?? 'kopiatomic').replace(/\./g, '_')}`;
  const run = (o.check ? checkArgv : runArgv)(o.node, o.script, `"$${v}_config"`)
    .map((w) => (w.startsWith('"') ? w : shQuote(w)))
    .join(' ');
  return `#!/bin/sh
${MARK}
${CONFIG_LINE}${o.config}
#
# ${o.check ? "The repository checks of kopiatomic's jobs" : 'Atomic ZFS backups with kopiatomic'}. In /etc/periodic.conf:
#   ${v}_enable="YES"
#   ${v}_jobs="${o.jobs.join(' ')}"	# the jobs to ${o.check ? 'check' : 'run'}, in order
#   ${v}_config="${o.config}"

# If there is a global system configuration file, suck it in.
if [ -r /etc/defaults/periodic.conf ]; then
	. /etc/defaults/periodic.conf
	source_periodic_confs
fi

: \${${v}_enable:="NO"}
: \${${v}_jobs:=${shQuote(o.jobs.join(' '))}}
: \${${v}_config:=${shQuote(o.config)}}

# periodic runs with a PATH without /usr/local: node and the engines live there.
PATH=${CRON_PATH}
export PATH

rc=0
case "$${v}_enable" in
[Yy][Ee][Ss])
	echo ""
	echo "kopiatomic ${o.check ? 'checks' : 'backups'}:"
	for job in $${v}_jobs; do
		echo "job $job:"
		if ! ${run} "$job" 2>&1; then
			echo "job $job FAILED"
			rc=3
		fi
	done
	;;
esac

exit $rc
`;
}
