// FreeBSD periodic(8): a daily script that runs the jobs and reports into the
// daily mail. Enabled in /etc/periodic.conf like the base system's scripts.
import { CRON_PATH } from './cron.js';
import { MARK, runArgv } from './systemd.js';

export const PERIODIC_SCRIPT = '/usr/local/etc/periodic/daily/900.kopiatomic';

const shQuote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

export function periodicScript(o: { node: string; script: string; config: string; jobs: string[] }): string {
  const run = runArgv(o.node, o.script, '"$daily_kopiatomic_config"')
    .map((w) => (w.startsWith('"') ? w : shQuote(w)))
    .join(' ');
  return `#!/bin/sh
${MARK}
#
# Atomic ZFS backups with kopiatomic. In /etc/periodic.conf:
#   daily_kopiatomic_enable="YES"
#   daily_kopiatomic_jobs="${o.jobs.join(' ')}"	# the jobs to run, in order
#   daily_kopiatomic_config="${o.config}"

# If there is a global system configuration file, suck it in.
if [ -r /etc/defaults/periodic.conf ]; then
	. /etc/defaults/periodic.conf
	source_periodic_confs
fi

: \${daily_kopiatomic_enable:="NO"}
: \${daily_kopiatomic_jobs:=${shQuote(o.jobs.join(' '))}}
: \${daily_kopiatomic_config:=${shQuote(o.config)}}

# periodic runs with a PATH without /usr/local: node and the engines live there.
PATH=${CRON_PATH}
export PATH

rc=0
case "$daily_kopiatomic_enable" in
[Yy][Ee][Ss])
	echo ""
	echo "kopiatomic backups:"
	for job in $daily_kopiatomic_jobs; do
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
