// What is a secret, and the one mask every printer goes through: the
// reporter (lines, events, --json, the dry-run plan, error messages), the
// status file, the metrics and the ping body. A secret is found by value, not
// only by name:
//   - the value of an environment variable with a secret name: one the engines
//     document (SECRET_NAMES) or one whose name holds PASS, SECRET, TOKEN, KEY,
//     CREDENTIAL or SAS, unless it names a file, path, command, directory or
//     id (NAME_FILE, GOOGLE_APPLICATION_CREDENTIALS, RESTIC_KEY_HINT, ...);
//   - the user info of a URL in any value (rest:https://USER:PASSWORD@host/,
//     s3:https://KEY:SECRET@host/...): all of it, except for ssh and sftp,
//     whose user name is a login name and only a password is secret;
//   - ping_url, whole (its path is the token).
// Values known to be secret are remembered when the configuration is
// resolved, so they are masked wherever they turn up (an engine's error
// quoting its repository, an argv word).

export const MASK = '********';

/** Variables the engines document as holding a credential (restic's and kopia's environment lists). */
export const SECRET_NAMES = [
  'RESTIC_PASSWORD',
  'RESTIC_REST_PASSWORD',
  'KOPIA_PASSWORD',
  'KOPIA_SERVER_PASSWORD',
  'KOPIA_SERVER_CONTROL_PASSWORD',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_ACCOUNT_KEY',
  'AZURE_ACCOUNT_SAS',
  'AZURE_CLIENT_SECRET',
  'B2_ACCOUNT_KEY',
  'OS_PASSWORD',
  'OS_AUTH_TOKEN',
  'OS_APPLICATION_CREDENTIAL_SECRET',
  'ST_KEY',
  'GOOGLE_ACCESS_TOKEN',
];

/** Names that look secret but hold a place or an id, not the secret itself. */
const NOT_SECRET = /_(FILE|PATH|COMMAND|DIR|HINT|ID)$|^GOOGLE_APPLICATION_CREDENTIALS$/i;

/** Whether an environment variable's value is a secret by its name. */
export function isSecretName(name: string): boolean {
  if (SECRET_NAMES.includes(name.toUpperCase())) return true;
  return /PASS|SECRET|TOKEN|KEY|CREDENTIAL|(^|_)SAS(_|$)/i.test(name) && !NOT_SECRET.test(name);
}

// scheme://USERINFO@ : the user info runs to the last "@" before the host's
// end ("/", "?", "#", white space, or a quote: none may stand unencoded in a URL).
// A scheme starts where no scheme character stands before it and is at most
// 32 long: otherwise a long word without "://" (a 200 KiB option) is tried
// from each of its characters, each try running to its end (quadratic).
const USERINFO = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,31}):\/\/([^\s/?#"'`<>]*)@/g;
const LOGIN_SCHEMES = new Set(['ssh', 'sftp']);

/** The secret parts of a URL's user info found in text (what maskText hides of it). */
function userInfoSecrets(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(USERINFO)) {
    const secret = secretOfUserInfo(m[1]!, m[2]!);
    if (secret) out.push(secret);
  }
  return out;
}

function secretOfUserInfo(scheme: string, info: string): string {
  if (info === '') return '';
  if (!LOGIN_SCHEMES.has(scheme.toLowerCase())) return info;
  const colon = info.indexOf(':');
  return colon < 0 ? '' : info.slice(colon + 1);
}

/**
 * The secrets a value holds: all of it when its name says so (an env name
 * with `env`, or `ping_url`), and the user info of every URL in it. Empty when
 * it holds none.
 */
export function secretsOf(value: string, name: { env?: string; key?: string } = {}): string[] {
  if (value === '') return [];
  if ((name.env !== undefined && isSecretName(name.env)) || name.key === 'ping_url') return [value];
  return userInfoSecrets(value);
}

/** An option that takes a secret as its value (kopia --password=X): named like a secret variable. */
function isSecretFlag(word: string): boolean {
  if (!/^--?[A-Za-z]/.test(word) || /^--?no-/.test(word)) return false;
  return isSecretName(word.replace(/^-+/, '').replace(/-/g, '_'));
}

/**
 * The secrets in a command's words (command, options, verify_command): the
 * value of a secret option (`--password=X`, `--password X`) and any URL's
 * user info. Such a secret would also be in the engine's argv, which every
 * local user can read (ps): the loader refuses it in a readable file, and a run
 * warns.
 */
export function secretsInWords(words: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf('=');
    if (eq > 0 && isSecretFlag(w.slice(0, eq))) out.push(w.slice(eq + 1));
    else if (isSecretFlag(w) && words[i + 1] !== undefined && !words[i + 1]!.startsWith('-')) out.push(words[i + 1]!);
    out.push(...userInfoSecrets(w));
  }
  return out.filter((x) => x !== '');
}

const known = new Set<string>();
/** `known`, longest first (so a secret that contains another is masked whole): sorted when it grows, not on every line masked. */
let longestFirst: string[] = [];
/** Each known secret as it appears inside a JSON string (quotes, backslashes and control characters escaped). */
let inJson: string[] = [];

/** Remembers values to mask wherever they appear (the configuration's secrets, once resolved). */
export function rememberSecrets(values: Iterable<string>): void {
  const size = known.size;
  // Too short a value would mask ordinary words; such a "secret" is no secret anyway.
  for (const v of values) if (v.length >= 4) known.add(v);
  if (known.size !== size) {
    longestFirst = [...known].sort((a, b) => b.length - a.length);
    inJson = longestFirst.map((k) => JSON.stringify(k).slice(1, -1));
  }
}

/** A resolved job's secrets (engine environment, ping URL, command words), remembered; returns those in the engine's argv. */
export function rememberJobSecrets(job: { env: Record<string, string>; repositories?: { env: Record<string, string> }[]; pingUrl: string | null; command: string[]; options: string[]; verifyCommand: string[] | null }): string[] {
  for (const env of [job.env, ...(job.repositories ?? []).map((r) => r.env)]) {
    for (const [k, v] of Object.entries(env)) rememberSecrets(secretsOf(v, { env: k }));
  }
  if (job.pingUrl) rememberSecrets([job.pingUrl]);
  const inArgv = secretsInWords([...job.command, ...job.options, ...(job.verifyCommand ?? [])]);
  rememberSecrets(inArgv);
  return inArgv;
}

/** For tests: forget what rememberSecrets learned. */
export function forgetSecrets(): void {
  known.clear();
  longestFirst = [];
  inJson = [];
}

let fromProcessEnv = false;
function rememberProcessEnv(): void {
  if (fromProcessEnv) return;
  fromProcessEnv = true;
  // The engine inherits our environment (a unit's EnvironmentFile): its secrets are ours to hide too.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) rememberSecrets(secretsOf(v, { env: k }));
}

/** THE mask: text with every secret replaced by ********. */
export function maskText(text: string): string {
  if (text === '') return text;
  rememberProcessEnv();
  let out = text.replace(USERINFO, (all, scheme: string, info: string) => {
    const secret = secretOfUserInfo(scheme, info);
    if (!secret) return all;
    return `${scheme}://${info.slice(0, info.length - secret.length)}${MASK}@`;
  });
  for (const s of longestFirst) if (out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

/**
 * JSON.stringify(maskDeep(v)), for the events: most hold no secret, and the
 * one-line text shows that cheaply (a URL's user info needs "://", and every
 * string of the value, keys included, appears in it escaped as JSON escapes
 * it), so only a line that may hold one is masked field by field (with an event
 * per mount, maskDeep was a twentieth of a run's own CPU in the test guest).
 */
export function maskedJson(v: unknown): string {
  const text = JSON.stringify(v);
  rememberProcessEnv();
  if (!text.includes('://') && !inJson.some((s) => text.includes(s))) return text;
  return JSON.stringify(maskDeep(v));
}

/** maskText on every string inside a value (events' fields, records), keys included; the value is copied. */
export function maskDeep<T>(v: T): T {
  if (typeof v === 'string') return maskText(v) as T;
  if (Array.isArray(v)) return v.map((x) => maskDeep(x)) as T;
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [maskText(k), maskDeep(x)])) as T;
  }
  return v;
}
