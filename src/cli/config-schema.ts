import { configJsonSchema } from '../config/load.js';
import { asksForHelp } from './args.js';

export const CONFIG_SCHEMA_USAGE = `Usage: latchkey config-schema

Prints the JSON Schema (draft 2020-12) of Latchkey's config file, for editors. The repository keeps a copy in
schemas/latchkey-config.schema.json; a config file points an editor using yaml-language-server at it with a
first line such as
  # yaml-language-server: $schema=../schemas/latchkey-config.schema.json
(a path relative to the config file, or a URL).

  -h, --help    this help
`;

export async function configSchemaCommand(args: string[]): Promise<number> {
  if (asksForHelp(args)) {
    process.stdout.write(CONFIG_SCHEMA_USAGE);
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(
      `latchkey config-schema: unexpected argument "${args[0]}"\n\n${CONFIG_SCHEMA_USAGE}`,
    );
    return 2;
  }
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
