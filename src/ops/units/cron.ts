// A cron line for a job: for systems without systemd, or for people who prefer
// cron. cron's PATH is short (Debian: /usr/bin:/bin, no /usr/sbin where zfs
// lives; FreeBSD: no /usr/local/bin, where node lives), so the line sets PATH
// itself and names node and the script by absolute path.
import { calendarFields } from '../../core/calendar.js';
import { checkArgv, runArgv } from './systemd.js';

export const CRON_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The five cron fields of a schedule (ops/units/calendar.ts); null for a schedule outside that grammar. */
export const cronFields = calendarFields;

const shQuote = (w: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** A line for /etc/cron.d or /etc/crontab (with the user field root). */
export function cronLine(o: { job: string; schedule: string; node: string; script: string; config: string; check?: boolean }): string {
  const fields = cronFields(o.schedule);
  if (!fields) throw new Error(`schedule "${o.schedule}" of job ${o.job} has no cron equivalent; give weekdays, a date *-MM-DD and a time HH:MM, or hourly, daily, weekly, monthly`);
  const cmd = ['env', `PATH=${CRON_PATH}`, ...(o.check ? checkArgv : runArgv)(o.node, o.script, o.config), o.job].map(shQuote).join(' ');
  // cron mails what the command prints; % is special in crontabs.
  return `${fields} root ${cmd.replace(/%/g, '\\%')}`;
}
