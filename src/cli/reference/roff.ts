// Text made safe for a man page: roff reads a backslash as an escape, a line
// that starts with a dot or quote as a request, and a bare - as a hyphen.

export function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** Paragraphs (blank-line separated) as filled text. */
export function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => roff(p.replace(/\s*\n\s*/g, ' ').trim()))
    .join('\n.PP\n');
}

export const bold = (s: string) => `\\fB${roff(s)}\\fR`;
export const italic = (s: string) => `\\fI${roff(s)}\\fR`;
