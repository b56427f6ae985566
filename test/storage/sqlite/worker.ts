// A separate process sharing one SQLite file with others, for the races a single thread cannot produce.
// Protocol: print "ready", wait for one line on stdin (so all workers start together), act, print one JSON
// line with the outcome.
import { createInterface } from 'node:readline';
import { isConflict, isNotFound } from '../../../src/storage/errors.js';
import { SqliteStorage } from '../../../src/storage/sqlite/sqlite.js';

async function startSignal(): Promise<void> {
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const _ of lines) break;
  lines.close();
}

async function open(file: string): Promise<unknown> {
  await startSignal();
  const storage = SqliteStorage.open(file);
  await storage.ping();
  await storage.close();
  return { opened: true };
}

async function increment(file: string, id: string, times: number): Promise<unknown> {
  const storage = SqliteStorage.open(file);
  await startSignal();
  let successes = 0;
  let conflicts = 0;
  while (successes < times) {
    try {
      await storage.updateRefreshToken(id, (r) => ({ ...r, nonce: String(Number(r.nonce) + 1) }));
      successes++;
    } catch (e) {
      if (!isConflict(e)) throw e;
      conflicts++;
    }
  }
  await storage.close();
  return { successes, conflicts };
}

async function consume(file: string, ids: string[]): Promise<unknown> {
  const storage = SqliteStorage.open(file);
  await startSignal();
  const won: string[] = [];
  for (const id of ids) {
    try {
      won.push((await storage.consumeAuthCode(id)).id);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  await storage.close();
  return { won };
}

const [command, file, ...args] = process.argv.slice(2);
if (!file) throw new Error('usage: worker.ts open|increment|consume <file> …');
const result =
  command === 'open'
    ? await open(file)
    : command === 'increment'
      ? await increment(file, args[0]!, Number(args[1]))
      : command === 'consume'
        ? await consume(file, args)
        : undefined;
if (result === undefined) throw new Error(`unknown command ${command}`);
process.stdout.write(`${JSON.stringify(result)}\n`);
