// restic's --exclude-file and --iexclude-file, read the way restic reads them
// (cmd/restic/exclude.go, readPatternsFromFiles): the file decoded as text (a
// UTF-8 byte order mark dropped, UTF-16 with a byte order mark decoded), one
// line per pattern ("\r\n" ends a line too), white space trimmed from both
// ends, blank lines and lines starting with '#' skipped, then environment
// variables expanded by Go's os.Expand ($NAME, ${NAME}, $$ for a literal $).
import { readFileSync } from 'node:fs';

export type PatternFile = { patterns: string[] } | { problem: string };

/**
 * The patterns of one file. `env` is restic's environment; without it a
 * pattern that names a variable cannot be known, and the file is not judged.
 */
export function readResticPatternFile(path: string, env?: Record<string, string | undefined>): PatternFile {
  if (!path.startsWith('/')) return { problem: `${path} is relative to restic's working directory` };
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    return { problem: `${path} could not be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  const text = decode(data);
  if (text === null) return { problem: `${path} is UTF-16 big-endian text` };
  const patterns: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const unknown: string[] = [];
    const p = goExpand(line, (name) => {
      if (name === '$') return '$';
      if (!env) unknown.push(name);
      return env?.[name] ?? '';
    });
    if (unknown.length) return { problem: `${path}: ${line} names the environment variable ${unknown[0]}, whose value for restic is not known here` };
    patterns.push(p);
  }
  return { patterns };
}

function decode(b: Buffer): string | null {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return b.subarray(3).toString('utf8');
  if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le');
  if (b[0] === 0xfe && b[1] === 0xff) return null;
  return b.toString('utf8');
}

const special = (c: string) => '*#$@!?-0123456789'.includes(c);
const alnum = (c: string) => /^[A-Za-z0-9_]$/.test(c);

/** Go's os.Expand: the same eaten bad syntax ("${}", an unclosed "${"), a lone '$' left as it is. */
export function goExpand(s: string, mapping: (name: string) => string): string {
  let out = '';
  let i = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] !== '$' || j + 1 >= s.length) continue;
    out += s.slice(i, j);
    const [name, w] = shellName(s.slice(j + 1));
    if (name === '' && w > 0) {
      // bad syntax: eaten
    } else if (name === '') out += '$';
    else out += mapping(name);
    j += w;
    i = j + 1;
  }
  return out + s.slice(i);
}

function shellName(s: string): [string, number] {
  if (s[0] === '{') {
    if (s.length > 2 && special(s[1]!) && s[2] === '}') return [s[1]!, 3];
    for (let i = 1; i < s.length; i++) {
      if (s[i] === '}') return i === 1 ? ['', 2] : [s.slice(1, i), i + 1];
    }
    return ['', 1];
  }
  if (special(s[0]!)) return [s[0]!, 1];
  let i = 0;
  while (i < s.length && alnum(s[i]!)) i++;
  return [s.slice(0, i), i];
}
