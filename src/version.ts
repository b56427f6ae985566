import { readFileSync } from 'node:fs';

// Read once from package.json so `latchkey version` and /metrics never disagree with the release.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const VERSION: string = pkg.version;
