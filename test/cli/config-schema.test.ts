import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

// The JSON Schema of the config, committed for editors (yaml-language-server modelines, SchemaStore-style
// settings), must be what `latchkey config-schema` prints for this code; and every example config points
// its editor at it.
const SCHEMA = 'schemas/latchkey-config.schema.json';
const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/m;

function configFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return configFiles(path);
    return /^config[^/]*\.ya?ml$/.test(name) ? [path] : [];
  });
}

describe('the committed config schema', () => {
  it(`${SCHEMA} is what latchkey config-schema prints`, async () => {
    const r = await runCli(['config-schema']);
    expect(r.code).toBe(0);
    const committed = readFileSync(join(REPO_ROOT, SCHEMA), 'utf8');
    // Regenerate with: npm run build && node bin/latchkey.js config-schema > schemas/latchkey-config.schema.json
    expect(committed).toBe(r.stdout);
  });

  const examples = configFiles(join(REPO_ROOT, 'examples')).map((f) => relative(REPO_ROOT, f));

  it('covers the example configs', () => {
    expect(examples).toEqual(
      expect.arrayContaining(['examples/config-dev.yaml', 'examples/k8s/config.yaml']),
    );
  });

  it.each(examples)('%s names the schema in a yaml-language-server modeline, by a relative path', (file) => {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const header = text.slice(0, text.search(/^[^#\n]/m));
    const target = MODELINE.exec(header)?.[1];
    expect(target).toBeDefined();
    expect(resolve(dirname(join(REPO_ROOT, file)), target!)).toBe(join(REPO_ROOT, SCHEMA));
  });
});
