// The `schedule` grammar: the systemd OnCalendar forms that cron can express
// too, so that a schedule `config check` accepts works for the systemd timer,
// `schedule show --cron` and FreeBSD alike, and one it refuses is refused
// before any of them. A weekday part, a date part and a time part, each
// optional (systemd.time(7)):
//   [Mon,Wed | Mon..Fri] [*-*-* | *-MM-DD] [HH:MM[:00]]
// with numbers, "*", lists "a,b" and ranges "a..b" in each field, or one of
// minutely, hourly, daily, weekly, monthly, yearly (annually).

const KEYWORDS: Record<string, string> = {
  minutely: '* * * * *',
  hourly: '0 * * * *',
  daily: '0 0 * * *',
  weekly: '0 0 * * 1',
  monthly: '0 0 1 * *',
  yearly: '0 0 1 1 *',
  annually: '0 0 1 1 *',
};
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** One field: "*", or numbers and ranges a..b (a <= b) within [min, max], as cron writes it; null when it is not one. */
function field(text: string, min: number, max: number, value: (w: string) => number | null = (w) => (/^\d{1,2}$/.test(w) ? Number(w) : null)): string | null {
  if (text === '*') return '*';
  const parts: string[] = [];
  for (const item of text.split(',')) {
    const ends = item.split('..');
    if (ends.length > 2) return null;
    const [a, b] = ends.map(value);
    if (a === null || a === undefined || a < min || a > max) return null;
    if (ends.length === 1) parts.push(String(a));
    else if (b === null || b === undefined || b < a || b > max) return null;
    else parts.push(`${a}-${b}`);
  }
  return parts.join(',');
}

const FULL = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** Mon..Sun as 1..7: Monday starts systemd's week, and cron reads 7 as Sunday too. */
const day = (w: string): number | null => {
  const i = DAYS.findIndex((d, k) => w.toLowerCase() === d || w.toLowerCase() === FULL[k]);
  return i < 0 ? null : i === 0 ? 7 : i;
};

/** The five cron fields of a schedule; null when it is not in the grammar above. */
export function calendarFields(schedule: string): string | null {
  const s = schedule.trim();
  if (!s) return null;
  if (KEYWORDS[s.toLowerCase()]) return KEYWORDS[s.toLowerCase()]!;
  const words = s.split(/\s+/).filter(Boolean);
  let dow = '*';
  let dom = '*';
  let month = '*';
  let hour = '0';
  let minute = '0';
  if (words.length && /^[A-Za-z]/.test(words[0]!)) {
    const f = field(words.shift()!, 1, 7, day);
    if (f === null) return null;
    dow = f;
  }
  if (words.length && words[0]!.includes('-')) {
    const m = /^(\*)-([^-]+)-([^-]+)$/.exec(words.shift()!);
    if (!m) return null;
    const mo = field(m[2]!, 1, 12);
    const d = field(m[3]!, 1, 31);
    if (mo === null || d === null) return null;
    [month, dom] = [mo, d];
  }
  if (words.length) {
    const m = /^([^:]+):([^:]+)(?::(00?))?$/.exec(words.shift()!);
    if (!m) return null;
    const h = field(m[1]!, 0, 23);
    const mi = field(m[2]!, 0, 59);
    if (h === null || mi === null) return null;
    [hour, minute] = [h, mi];
  }
  if (words.length) return null;
  // cron runs when either the day of month or the weekday matches, systemd when both do.
  if (dow !== '*' && dom !== '*') return null;
  return `${minute} ${hour} ${dom} ${month} ${dow}`;
}

export const isCalendar = (schedule: string): boolean => calendarFields(schedule) !== null;
