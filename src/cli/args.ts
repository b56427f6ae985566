import { parseArgs, type ParseArgsConfig } from 'node:util';

export const USAGE = `Usage: latchkey <command> [options]

Commands:
  serve [--check] [--web-http-addr A] [--web-https-addr A] [--telemetry-addr A] <config.yaml>
                    Run the identity provider (--check: validate the config and exit)
  hash-password     Read a password on stdin, print its bcrypt hash (for staticPasswords)
  config-schema     Print the JSON Schema of the config file (for editors)
  kubeconfig        Print a kubeconfig that logs in through Latchkey with kubelogin (--help for flags)
  example-app       A relying party to try logins with: shows (or, with --device, prints) the tokens
  import dex        Copy a Dex installation's clients, passwords, refresh tokens and keys into
                    Latchkey's storage, so users switch without logging in again (--help for flags)
  version           Print the version

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
