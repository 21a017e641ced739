// Where the repository is, for tests that read its files (README.md, schema/).
import { fileURLToPath } from 'node:url';

export const ROOT_DIR = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
