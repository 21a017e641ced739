// `npm run build` runs this: writes the configuration's JSON Schema (for
// editors: taplo, VS Code Even Better TOML) to schema/kopiatomic.schema.json.
// A unit test checks that the committed file matches the schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jsonSchema } from './schema.js';

export const SCHEMA_FILE = fileURLToPath(new URL('../../../schema/kopiatomic.schema.json', import.meta.url));

export function schemaText(): string {
  return JSON.stringify(jsonSchema(), null, 2) + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(new URL('../../../schema/', import.meta.url), { recursive: true });
  writeFileSync(SCHEMA_FILE, schemaText());
}
