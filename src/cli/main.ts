import { VERSION } from '../version.js';
import { USAGE, asksForHelp } from './args.js';

const VERSION_USAGE = `Usage: latchkey version

Prints Latchkey's version and the Node.js version and platform it runs on.
`;

type Command = (args: string[]) => Promise<number>;

// Each command's module is imported only when that command runs: `serve` brings the HTTP stack, `import`
// the Kubernetes client, `example-app` openid-client; `latchkey version` or `hash-password` (kubectl exec in
// a pod with a memory limit) should start in milliseconds and a few tens of MB, not pay for all of them.
const COMMANDS = new Map<string, () => Promise<Command>>([
  ['serve', async () => (await import('./serve.js')).serveCommand],
  ['hash-password', async () => (await import('./hash-password.js')).hashPasswordCommand],
  ['config-schema', async () => (await import('./config-schema.js')).configSchemaCommand],
  ['kubeconfig', async () => (await import('./kubeconfig.js')).kubeconfigCommand],
  ['example-app', async () => (await import('./example-app.js')).exampleAppCommand],
  ['import', async () => (await import('./import.js')).importCommand],
]);

/** Runs one CLI invocation and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `latchkey help kubeconfig` is `latchkey kubeconfig --help`, as with kubectl and git.
  if (command === 'help' && rest[0] !== undefined) return main([rest[0], '--help']);
  const load = command === undefined ? undefined : COMMANDS.get(command);
  if (load !== undefined) return (await load())(rest);
  switch (command) {
    case 'version':
    case '--version':
      if (asksForHelp(rest)) {
        process.stdout.write(VERSION_USAGE);
        return 0;
      }
      process.stdout.write(
        `Latchkey Version: ${VERSION}\nNode Version: ${process.version}\nNode OS/ARCH: ${process.platform} ${process.arch}\n`,
      );
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      if (command !== undefined) process.stderr.write(`latchkey: unknown command "${command}"\n\n`);
      process.stderr.write(USAGE);
      return 2;
  }
}
