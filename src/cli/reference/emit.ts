// `npm run build` runs this after the schema is written: the man pages
// (dist/man) and the shell completions (dist/completions), made from the
// commands' declarations, the flag table and the configuration's JSON Schema.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KOPIATOMIC, RESTOMIC } from '../../config/job.js';
import { COMMANDS } from '../commands.js';
import { bashCompletion, fishCompletion, zshCompletion } from './completions.js';
import { configPage, programPage } from './man.js';

const root = new URL('../../../../', import.meta.url);

export function references(): Record<string, string> {
  const version = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string }).version;
  const schema = JSON.parse(readFileSync(new URL('schema/kopiatomic.schema.json', root), 'utf8'));
  const bash = bashCompletion(COMMANDS);
  return {
    'dist/man/kopiatomic.8': programPage(COMMANDS, KOPIATOMIC, version),
    'dist/man/restomic.8': programPage(COMMANDS, RESTOMIC, version),
    'dist/man/kopiatomic.toml.5': configPage(schema, version),
    'dist/completions/kopiatomic.bash': bash,
    'dist/completions/restomic.bash': bash,
    'dist/completions/_kopiatomic': zshCompletion(COMMANDS),
    'dist/completions/kopiatomic.fish': fishCompletion(COMMANDS),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [path, text] of Object.entries(references())) {
    const url = new URL(path, root);
    mkdirSync(new URL('.', url), { recursive: true });
    writeFileSync(url, text);
  }
}
