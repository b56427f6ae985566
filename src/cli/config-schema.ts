import { configJsonSchema } from '../config/load.js';

export async function configSchemaCommand(_args: string[]): Promise<number> {
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
