// Durations as people write them in a config: "26h", "90m", "2d", "1w", "1h30m", "3600" (seconds).
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  let rest = s;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)\s*([smhdw])\s*/.exec(rest);
    if (!m) throw new Error(`not a duration: "${text}" (e.g. 26h, 90m, 2d, 1h30m)`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (!s) throw new Error('empty duration');
  return total;
}

/** Whether text is a duration parseDuration reads: the one grammar of flags and file. */
export function isDuration(text: string): boolean {
  try {
    parseDuration(text);
    return text.trim() !== '';
  } catch {
    return false;
  }
}

/** 4m12s, 3h05m, 2d03h: for people. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}
