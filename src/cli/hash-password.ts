import bcrypt from 'bcrypt';
import { text } from 'node:stream/consumers';
import { asksForHelp, parseFlags } from './args.js';

const DEFAULT_COST = 10;

export const HASH_PASSWORD_USAGE = `Usage: latchkey hash-password [--cost N] < password

Reads a password on standard input (one line; only the line ending is stripped) and prints its bcrypt
hash, for a config's staticPasswords[].hash or a Password object's hash:
  echo -n 'correct horse' | latchkey hash-password

  --cost N      bcrypt cost, 10 to 16 (default ${DEFAULT_COST}); each step doubles the time a login takes
  -h, --help    this help
`;

/** Reads a password on stdin and prints its bcrypt hash, for `staticPasswords[].hash`. */
export async function hashPasswordCommand(args: string[]): Promise<number> {
  if (asksForHelp(args)) {
    process.stdout.write(HASH_PASSWORD_USAGE);
    return 0;
  }
  const flags = parseFlags({ args, options: { cost: { type: 'string' } } });
  if (!flags.ok) {
    process.stderr.write(`latchkey hash-password: ${flags.message}\n\n${HASH_PASSWORD_USAGE}`);
    return 2;
  }
  const cost = Number((flags.parsed.values.cost as string | undefined) ?? DEFAULT_COST);
  // Dex refuses hashes outside 10..16 at login time, so never produce one.
  if (!Number.isInteger(cost) || cost < 10 || cost > 16) {
    process.stderr.write('latchkey hash-password: --cost must be an integer from 10 to 16\n');
    return 2;
  }
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter and Ctrl-D): ');
  // Only the line ending is stripped: leading and inner spaces are part of the password.
  const password = (await text(process.stdin)).replace(/\r?\n$/, '');
  if (password.length === 0) {
    process.stderr.write('latchkey hash-password: empty password on stdin\n');
    return 1;
  }
  if (Buffer.byteLength(password) > 72) {
    process.stderr.write(
      'latchkey hash-password: bcrypt uses only the first 72 bytes; use a shorter password\n',
    );
    return 1;
  }
  process.stdout.write(`${await bcrypt.hash(password, cost)}\n`);
  return 0;
}
