import { parseArgs, type ParseArgsConfig } from 'node:util';

export const USAGE = `Usage: latchkey <command> [options]

Commands:
  serve [--check] [--web-http-addr A] [--web-https-addr A] [--telemetry-addr A] <config.yaml>
                    Run the identity provider (--check: validate the config and exit)
  hash-password     Read a password on stdin, print its bcrypt hash (for staticPasswords)
  config-schema     Print the JSON Schema of the config file (for editors)
  kubeconfig        Print a kubeconfig that logs in through Latchkey with kubelogin
  example-app       A relying party to try logins with: shows (or, with --device, prints) the tokens
  import dex        Copy a Dex installation's clients, passwords, refresh tokens and keys into
                    Latchkey's storage, so users switch without logging in again
  version           Print the version

"latchkey <command> --help" (or "latchkey help <command>") describes a command and its flags.
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
`;

/** parseArgs that reports bad flags as a usage error instead of throwing. */
export function parseFlags<T extends ParseArgsConfig>(
  config: T,
): { ok: true; parsed: ReturnType<typeof parseArgs<T>> } | { ok: false; message: string } {
  try {
    return { ok: true, parsed: parseArgs(config) };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

/**
 * Whether the command line asks for help. Checked before anything else is validated, so that
 * `latchkey serve --help` answers without a config file and `--help` next to a bad flag still helps.
 */
export function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}
