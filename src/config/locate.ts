// Where a key sits in a TOML file, as line:column, for error messages. The
// parser gives values, not positions, so this reads the text: table headers,
// `key = value` lines (dotted and quoted keys too) and the keys of inline
// tables on a line. It returns the closest place it finds: the key itself, or
// the table or key that holds it, or 1:1.

export interface Position {
  line: number;
  col: number;
}

const BARE = /^[A-Za-z0-9_-]+/;

/** "jobs.home" / 'jobs."my job"' -> ['jobs', 'home'] / ['jobs', 'my job']; null if not a key. */
export function splitKey(s: string): string[] | null {
  const parts: string[] = [];
  let i = 0;
  const skip = () => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  skip();
  while (i < s.length) {
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i]!;
      const end = s.indexOf(q, i + 1);
      if (end < 0) return null;
      parts.push(s.slice(i + 1, end));
      i = end + 1;
    } else {
      const m = BARE.exec(s.slice(i));
      if (!m) return null;
      parts.push(m[0]);
      i += m[0].length;
    }
    skip();
    if (i >= s.length) break;
    if (s[i] !== '.') return null;
    i++;
    skip();
  }
  return parts.length ? parts : null;
}

interface Entry {
  path: string[];
  pos: Position;
}

/** Every header and key of the text with its position (inline-table keys included). */
function entries(text: string): Entry[] {
  const out: Entry[] = [];
  let table: string[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, n) => {
    const line = n + 1;
    const header = /^(\s*)\[\[?([^\]]*)\]\]?\s*(#.*)?$/.exec(raw);
    if (header) {
      const p = splitKey(header[2]!);
      if (p) {
        table = p;
        out.push({ path: p, pos: { line, col: header[1]!.length + 1 } });
      }
      return;
    }
    const kv = /^(\s*)([^=#\s][^=#]*?)\s*=/.exec(raw);
    if (!kv) return;
    const k = splitKey(kv[2]!);
    if (!k) return;
    const path = [...table, ...k];
    out.push({ path, pos: { line, col: kv[1]!.length + 1 } });
    // Keys of an inline table on this line: { a = 1, b = { c = 2 } }.
    const rest = raw.slice(kv[0].length);
    const stack: string[][] = [];
    let cur = path;
    const re = /([{},])|((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=|"(?:[^"\\]|\\.)*"|'[^']*'/g;
    let last: string[] = path;
    for (let m = re.exec(rest); m; m = re.exec(rest)) {
      if (m[1] === '{') {
        stack.push(cur);
        cur = last;
      } else if (m[1] === '}') cur = stack.pop() ?? path;
      else if (m[2]) {
        const sub = splitKey(m[2]);
        if (!sub) continue;
        last = [...cur, ...sub];
        out.push({ path: last, pos: { line, col: kv[0].length + m.index + 1 } });
      }
    }
  });
  return out;
}

/** The position of `path` in the text: its own entry, else the deepest entry that holds it. */
export function locate(text: string, path: (string | number)[]): Position {
  const want = path.map(String);
  let best: Entry | null = null;
  let bestLen = -1;
  for (const e of entries(text)) {
    if (e.path.length > want.length || e.path.length <= bestLen) continue;
    if (e.path.every((p, i) => p === want[i])) {
      best = e;
      bestLen = e.path.length;
    }
  }
  return best?.pos ?? { line: 1, col: 1 };
}
