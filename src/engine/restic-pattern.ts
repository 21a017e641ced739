// restic's exclude patterns (internal/filter): the pattern is cleaned and
// split at "/"; "**" stands for any number of path components; every other
// component is matched with Go's filepath.Match against one component of
// the path. A pattern that starts with "/" is matched from the root; any
// other matches any run of consecutive components (so "foo" matches
// /a/foo and everything below it). --iexclude lowercases both sides.
//
// Evaluated exactly here: literal components, "*" and "?" (one character).
// Not evaluated (the answer is "cannot tell", never a guess): character
// classes "[...]" and "\" escapes, "." or ".." components, "?" in a name
// that is not valid UTF-8 (Go counts its bytes differently), and a
// case-insensitive match where either side is not plain ASCII (Go's and
// JavaScript's lowercasing differ there).

/** true, false, or why it cannot be told. */
export function matchRestic(pattern: string, path: Buffer, insensitive: boolean, option = '--exclude'): boolean | string {
  const cannot = (why: string) => `${option} ${pattern}: ${why}, which is not evaluated`;
  if (pattern === '') return false; // restic ignores empty patterns
  if (/[[\]\\]/.test(pattern)) return cannot('a character class or escape');
  const rooted = pattern.startsWith('/');
  const parts = pattern.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) return cannot('a "." or ".." component');
  if (parts.length === 0) return cannot('no component');
  const pat = rooted ? ['/', ...parts] : parts;
  const strs = splitPath(path);
  if (insensitive && (!/^[\x00-\x7f]*$/.test(pattern) || path.some((b) => b > 0x7f))) return cannot('a case-insensitive match of a name that is not plain ASCII');
  let unsure = false;
  const comp = (p: string, s: Buffer): boolean => {
    const r = component(insensitive ? p.toLowerCase() : p, insensitive ? lowerAscii(s) : s);
    if (r === null) {
      unsure = true;
      return false;
    }
    return r;
  };
  const m = match(pat, strs, comp);
  if (m) return true; // a sure match: unsure components only made other alignments fail
  return unsure ? cannot('a "?" against a name that is not valid UTF-8') : false;
}

function lowerAscii(b: Buffer): Buffer {
  return Buffer.from(b.map((c) => (c >= 0x41 && c <= 0x5a ? c + 32 : c)));
}

/** "/a/b" -> ["/", "a", "b"]; repeated slashes are one. */
function splitPath(p: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i === p.length || p[i] === 0x2f) {
      if (i > start) out.push(p.subarray(start, i));
      start = i + 1;
    }
  }
  if (p[0] === 0x2f) out.unshift(Buffer.from('/'));
  return out;
}

function match(pat: string[], strs: Buffer[], comp: (p: string, s: Buffer) => boolean): boolean {
  const pos = pat.indexOf('**');
  if (pos >= 0) {
    // "**" expands to zero or more components (each matching anything).
    for (let n = 0; n <= strs.length; n++) {
      if (match([...pat.slice(0, pos), ...Array<string>(n).fill('*'), ...pat.slice(pos + 1)], strs, comp)) return true;
    }
    return false;
  }
  if (pat.length === 0) return strs.length === 0;
  if (pat.length > strs.length) return false;
  let min = 0;
  let max = strs.length - pat.length;
  if (pat[0] === '/') max = 0;
  else if (strs[0]?.toString() === '/') min = 1;
  for (let off = max; off >= min; off--) {
    let ok = true;
    for (let i = pat.length - 1; i >= 0 && ok; i--) ok = pat[i] === '/' ? strs[off + i]!.toString() === '/' : comp(pat[i]!, strs[off + i]!);
    if (ok) return true;
  }
  return false;
}

/** Go's filepath.Match for "*", "?" and literals on one component; null when it cannot be told. */
function component(p: string, name: Buffer): boolean | null {
  if (name.length === 1 && name[0] === 0x2f) return false; // the root marker is no name
  const utf8 = name.toString('utf8');
  const valid = Buffer.from(utf8, 'utf8').equals(name);
  if (!p.includes('*') && !p.includes('?')) return Buffer.from(p, 'utf8').equals(name);
  if (!valid && p.includes('?')) return null;
  // Invalid UTF-8 with "*" only: bytes, one character per byte, on both sides.
  const subject = valid ? utf8 : name.toString('latin1');
  const source = valid ? p : Buffer.from(p, 'utf8').toString('latin1');
  const re = source.replace(/[.*+?^${}()|[\]\\/-]/g, (c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : `\\${c}`));
  return new RegExp(`^${re}$`, valid ? 'su' : 's').test(subject);
}
