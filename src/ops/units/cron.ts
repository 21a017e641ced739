// A cron line for a job: for systems without systemd, or for people who prefer
// cron. cron's PATH is short (Debian: /usr/bin:/bin, no /usr/sbin where zfs
// lives; FreeBSD: no /usr/local/bin, where node lives), so the line sets PATH
// itself and names node and the script by absolute path.
import { runArgv } from './systemd.js';

export const CRON_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The five cron fields for the OnCalendar forms cron can express; null for the others. */
export function cronFields(schedule: string): string | null {
  const s = schedule.trim();
  const fixed: Record<string, string> = {
    minutely: '* * * * *',
    hourly: '0 * * * *',
    daily: '0 0 * * *',
    weekly: '0 0 * * 1',
    monthly: '0 0 1 * *',
  };
  if (fixed[s]) return fixed[s]!;
  // "*-*-* HH:MM[:SS]" or "HH:MM[:SS]", one time a day.
  const m = /^(?:\*-\*-\*\s+)?(\d{1,2}):(\d{2})(?::00)?$/.exec(s);
  if (m && Number(m[1]) < 24 && Number(m[2]) < 60) return `${Number(m[2])} ${Number(m[1])} * * *`;
  return null;
}

const shQuote = (w: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** A line for /etc/cron.d or /etc/crontab (with the user field root). */
export function cronLine(o: { job: string; schedule: string; node: string; script: string; config: string }): string {
  const fields = cronFields(o.schedule);
  if (!fields) throw new Error(`schedule "${o.schedule}" of job ${o.job} has no cron equivalent; give a daily time (HH:MM), hourly, daily, weekly or monthly`);
  const cmd = ['env', `PATH=${CRON_PATH}`, ...runArgv(o.node, o.script, o.config), o.job].map(shQuote).join(' ');
  // cron mails what the command prints; % is special in crontabs.
  return `${fields} root ${cmd.replace(/%/g, '\\%')}`;
}
