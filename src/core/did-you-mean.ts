// "Did you mean": the closest known name to a mistyped one, for the
// configuration's keys and the command line's commands and flags alike.

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** The closest known name, if it is close enough to be a typo. */
export function didYouMean(word: string, known: readonly string[], maxDistance = Math.max(2, Math.floor(word.length / 3))): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = levenshtein(word.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= maxDistance ? best : null;
}

/** " (did you mean X?)", or nothing when no known name is close. */
export function meantHint(word: string, known: readonly string[], maxDistance?: number): string {
  const m = didYouMean(word, known, maxDistance);
  return m === null ? '' : ` (did you mean ${m}?)`;
}
