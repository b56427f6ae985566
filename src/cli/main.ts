import { serveCommand } from './serve.js';
import { hashPasswordCommand } from './hash-password.js';
import { configSchemaCommand } from './config-schema.js';
import { kubeconfigCommand } from './kubeconfig.js';
import { exampleAppCommand } from './example-app.js';
import { importCommand } from './import.js';
import { VERSION } from '../version.js';
import { USAGE } from './args.js';

/** Runs one CLI invocation and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'hash-password':
      return hashPasswordCommand(rest);
    case 'config-schema':
      return configSchemaCommand(rest);
    case 'kubeconfig':
      return kubeconfigCommand(rest);
    case 'example-app':
      return exampleAppCommand(rest);
    case 'import':
      return importCommand(rest);
    case 'version':
    case '--version':
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
