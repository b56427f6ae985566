import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from '../../src/config/load.js';
import { expectedProblems as expected } from './bad-configs.expected.js';

const fixtures = fileURLToPath(new URL('../fixtures/config-bad', import.meta.url));

async function problemsOf(file: string): Promise<string[]> {
  try {
    await loadConfigFile(join(fixtures, file), {});
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error(`${file} loaded without problems`);
}

describe('malformed configs (test/fixtures/config-bad)', () => {
  it('every fixture has its expected problems listed here', () => {
    expect(readdirSync(fixtures).sort()).toEqual(Object.keys(expected).sort());
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
  });

  it.each(Object.entries(expected))('%s', async (file, problems) => {
    expect(await problemsOf(file)).toEqual(problems);
  });

  it('the error message names the file and lists each problem on its own line', async () => {
    const path = join(fixtures, 'wrong-types.yaml');
    await expect(loadConfigFile(path, {})).rejects.toThrow(
      `invalid configuration in ${path}:\n` +
        '  web: expected a mapping, got a list\n' +
        '  enablePasswordDB: expected true or false, got a number (1)\n' +
        '  oauth2.skipApprovalScreen: expected true or false, got "yes please"',
    );
  });
});
