// Reading the configuration: the main file, then its drop-ins conf.d/*.toml
// in name order, each parsed (smol-toml) and checked against the schema on
// its own so every problem names its file, line and column; then merged
// (later files win key by key; tables merge, lists and values replace).
// Loaded only by the commands that read a configuration: the schema library
// is most of the start-up time of a run given by flags.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { locate } from './locate.js';
import { didYouMean } from '../core/did-you-mean.js';
import { ConfigError, defaultConfigPath, type Problem } from './problems.js';
import { secretsInWords, secretsOf } from '../core/secrets.js';
import { splitWords } from '../core/words.js';
import { ConfigSchema, KNOWN_KEYS, type Config } from './schema.js';

/** Keys whose value is a command's words. */
const WORD_KEYS = new Set(['command', 'options', 'verify_command']);

export interface SourceFile {
  path: string;
  text: string;
  data: Record<string, unknown>;
}

export interface LoadedConfig {
  files: SourceFile[];
  config: Config;
  /** The place of a key: in the last file that sets it (or the deepest one that holds it). */
  where(path: (string | number)[]): Problem;
}

/** The main file and its drop-ins (DIR/conf.d/*.toml next to it), in the order they apply. */
export function configFiles(main: string): { main: string; dropIns: string[] } {
  const dir = join(dirname(main), 'conf.d');
  let dropIns: string[] = [];
  try {
    dropIns = readdirSync(dir)
      .filter((n) => n.endsWith('.toml') && !n.startsWith('.'))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((n) => join(dir, n));
  } catch {
    // no drop-ins
  }
  return { main, dropIns };
}

export { didYouMean };

function knownKeysAt(path: PropertyKey[]): readonly string[] {
  if (path.length === 0) return KNOWN_KEYS.top;
  if (path.length === 1 && path[0] === 'defaults') return KNOWN_KEYS.defaults;
  if (path.length === 2 && path[0] === 'jobs') return KNOWN_KEYS.job;
  return [];
}

function issueProblems(file: SourceFile, issues: z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  const at = (path: PropertyKey[], message: string) => {
    const pos = locate(file.text, path.map(String));
    out.push({ file: file.path, line: pos.line, col: pos.col, message });
  };
  const name = (path: PropertyKey[]) => path.map(String).join('.');
  for (const i of issues) {
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        const hint = didYouMean(k, knownKeysAt(i.path));
        at([...i.path, k], `unknown key ${name([...i.path, k])}${hint ? ` (did you mean ${hint}?)` : ''}`);
      }
    } else if (i.code === 'invalid_value' && i.values.length > 1) {
      // The choices in the user's words, and the one they probably meant.
      const got = valueAt(file.data, i.path);
      const hint = typeof got === 'string' ? didYouMean(got, i.values.map(String)) : null;
      at(i.path, `${name(i.path)}: ${JSON.stringify(got)} is not one of ${i.values.map(String).join(', ')}${hint ? ` (did you mean ${hint}?)` : ''}`);
    } else if (i.code === 'invalid_key') {
      // The schema's own message for the key (a record says only "Invalid key in record").
      const why = i.issues.map((x) => x.message).join('; ');
      at(i.path, `${i.path[0] === 'jobs' ? 'job name' : 'key'} ${JSON.stringify(String(i.path.at(-1)))}: ${why || i.message}`);
    } else if (i.code === 'invalid_type') {
      const got = valueAt(file.data, i.path);
      at(i.path, `${name(i.path)}: expected ${i.expected}, got ${describe(got)}`);
    } else {
      at(i.path, `${name(i.path) || 'file'}: ${i.message}`);
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof Date) return 'a date';
  return typeof v === 'object' ? 'a table' : `a ${typeof v}`;
}

export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/**
 * Paths of the values in a file that hold a secret (core/secrets.ts decides):
 * every string, at any depth, by its value, and by its name for env and ping_url.
 */
export function secretsIn(data: Record<string, unknown>): string[][] {
  const out: string[][] = [];
  const walk = (v: unknown, path: string[]): void => {
    const last = path[path.length - 1];
    if (last !== undefined && WORD_KEYS.has(last) && path[path.length - 2] !== 'env' && (typeof v === 'string' || Array.isArray(v))) {
      let words: string[];
      try {
        words = typeof v === 'string' ? splitWords(v) : v.filter((w): w is string => typeof w === 'string');
      } catch {
        words = [String(v)]; // unbalanced quotes: the schema reports it; the value is still looked at
      }
      if (secretsInWords(words).length) out.push(path);
      return;
    }
    if (typeof v === 'string') {
      const parent = path[path.length - 2];
      if (secretsOf(v, parent === 'env' ? { env: last! } : { key: last! }).length) out.push(path);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, String(i)]));
    else if (isPlainTable(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(data, []);
  return out;
}

function isPlainTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** Later wins; tables merge key by key, lists and values replace. */
export function mergeTables(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlainTable(v) && isPlainTable(out[k]) ? mergeTables(out[k], v) : v;
  return out;
}

/**
 * Loads the configuration. `file`: --config FILE, or null for the default
 * path (where a missing main file is fine if drop-ins exist). Throws a
 * ConfigError listing every problem of every file.
 */
export function loadConfig(file: string | null, platform: string = process.platform): LoadedConfig {
  const main = file ?? defaultConfigPath(platform);
  const { dropIns } = configFiles(main);
  const problems: Problem[] = [];
  const paths: string[] = [];
  if (existsSync(main)) paths.push(main);
  else if (file !== null || dropIns.length === 0) {
    throw new ConfigError([{ file: main, line: 0, col: 0, message: `no configuration file${file === null ? ' (give one with --config FILE)' : ''}` }]);
  }
  paths.push(...dropIns);

  const files: SourceFile[] = [];
  for (const path of paths) {
    let text: string;
    let mode = 0;
    try {
      text = readFileSync(path, 'utf8');
      const st = statSync(path);
      mode = st.mode;
      // Its hooks and commands run as root: only root may be able to change it.
      const me = process.getuid?.() ?? 0;
      if (me === 0 && (st.uid !== 0 || mode & 0o022)) {
        problems.push({ file: path, line: 0, col: 0, message: `others can change this file (owner uid ${st.uid}, mode ${(mode & 0o777).toString(8).padStart(4, '0')}), and its commands run as root: chown root and chmod go-w it` });
        continue;
      }
    } catch (e) {
      problems.push({ file: path, line: 0, col: 0, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    let data: Record<string, unknown>;
    try {
      data = parse(text) as Record<string, unknown>;
    } catch (e) {
      const t = e as TomlError;
      const first = (t.message ?? String(e)).split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      problems.push({ file: path, line: t.line ?? 1, col: t.column ?? 1, message: `not valid TOML: ${first}` });
      continue;
    }
    const source: SourceFile = { path, text, data };
    const r = ConfigSchema.safeParse(data);
    if (!r.success) problems.push(...issueProblems(source, r.error.issues));
    // A secret in a file others can read is refused: it would be on display.
    if (mode & 0o044) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      for (const s of secretsIn(data)) {
        const pos = locate(text, s);
        problems.push({
          file: path,
          ...pos,
          message: `${s.join('.')} holds a secret (see "Secrets" in the README), but group or others can read this file (mode ${octal}): chmod 600 ${path}, or move the secret to a file of its own read with env_files`,
        });
      }
    }
    files.push(source);
  }
  if (problems.length) throw new ConfigError(problems);

  const merged = files.reduce<Record<string, unknown>>((acc, f) => mergeTables(acc, f.data), {});
  const config = ConfigSchema.parse(merged);
  // The place of a job's value: where the job sets it, else where [defaults]
  // sets what the job inherits (in whichever file, a drop-in too), else the job's table.
  const where = (path: (string | number)[]): Problem => {
    const last = (p: (string | number)[]) => [...files].reverse().find((f) => valueAt(f.data, p) !== undefined);
    const inherited = path[0] === 'jobs' && path.length > 2 ? ['defaults', ...path.slice(2)] : null;
    let at = path;
    let holder = last(path);
    if (!holder && inherited && (holder = last(inherited))) at = inherited;
    holder ??= last(path.slice(0, 2)) ?? files[0];
    if (!holder) return { file: main, line: 0, col: 0, message: '' };
    const pos = locate(holder.text, at);
    return { file: holder.path, line: pos.line, col: pos.col, message: '' };
  };
  return { files, config, where };
}
