// The mount table: Linux /proc/self/mountinfo, FreeBSD `mount -p` (fstab form).
// Both escape spaces, tabs, newlines and backslashes as \ooo octal.

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  /**
   * The folder of the mounted filesystem that appears at `target`: "/" for a
   * whole filesystem, a sub-folder for a bind mount of part of one (Linux
   * mountinfo field 4; always "/" from FreeBSD's `mount -p`).
   */
  root: string;
}

export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/self/mountinfo: "id parent maj:min root target opts [tags] - fstype source superopts". */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 3) continue;
    // Bind mounts of sub-folders (root other than "/") are kept: they are
    // still mounts at their target, which recovery must never walk into;
    // discovery ignores them when locating datasets.
    out.push({ target: unescapeOctal(f[4]!), fstype: f[dash + 1]!, source: unescapeOctal(f[dash + 2]!), root: unescapeOctal(f[3]!) });
  }
  return out;
}

/** FreeBSD `mount -p`: "source target fstype options dump pass", whitespace separated. */
export function parseMountP(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[ \t]+/);
    if (f.length < 3 || f[0] === '') continue;
    out.push({ source: unescapeOctal(f[0]!), target: unescapeOctal(f[1]!), fstype: f[2]!, root: '/' });
  }
  return out;
}

/** Escapes a mount table field the way fstab(5) reads it back (octal for space, tab, newline, backslash). */
export function tableField(s: string): string {
  return s.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}
