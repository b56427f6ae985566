import { runCli } from '../helpers/cli.js';

// Every command answers --help (and -h, and `latchkey help <command>`) with its own usage on standard output
// and exit 0, before it validates anything: `latchkey serve --help` needs no config file.
const COMMANDS: [string, string][] = [
  ['serve', 'Usage: latchkey serve [options] <config.yaml>'],
  ['kubeconfig', 'Usage: latchkey kubeconfig --issuer URL --client-id ID [options]'],
  ['hash-password', 'Usage: latchkey hash-password [--cost N] < password'],
  ['import', 'Usage: latchkey import dex --config LATCHKEY.yaml SOURCE [options]'],
  ['example-app', 'Usage: latchkey example-app [options]'],
  ['config-schema', 'Usage: latchkey config-schema'],
  ['version', 'Usage: latchkey version'],
];

describe('--help on every command', () => {
  it.each(COMMANDS)('latchkey %s --help prints its usage and exits 0', async (command, usage) => {
    const long = await runCli([command, '--help']);
    expect({ code: long.code, stderr: long.stderr }).toEqual({ code: 0, stderr: '' });
    expect(long.stdout.startsWith(`${usage}\n`)).toBe(true);
    expect(await runCli([command, '-h'])).toEqual(long);
    expect(await runCli(['help', command])).toEqual(long);
  });

  it('answers --help even next to what would be a usage error', async () => {
    const r = await runCli(['serve', '--bogus', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: latchkey serve');
  });

  it('lists every command in the top-level usage, and says how to get a command’s help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const [command] of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(r.stdout).toContain('latchkey <command> --help');
  });

  it('still refuses an unknown command asked about with help', async () => {
    const r = await runCli(['help', 'serv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "serv"');
  });
});
