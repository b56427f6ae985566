// A storage host in a child process, as the primary will be for its workers: `test.fresh` replaces the
// served storage with a new, empty one (memory, or SQLite in a new file of the directory given).
import { join } from 'node:path';
import { serveRpc, type RpcHandlers } from '../../../src/cluster/rpc.js';
import { storageHandlers } from '../../../src/cluster/storage-host.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { SqliteStorage } from '../../../src/storage/sqlite/sqlite.js';
import type { Storage } from '../../../src/storage/storage.js';
import type { StorageFactoryOptions } from '../../storage/conformance.js';

const [kind, dir] = process.argv.slice(2);
let current: Storage | undefined;
let files = 0;

function open(opts: StorageFactoryOptions): Storage {
  if (kind === 'memory') return new MemoryStorage(opts);
  if (kind === 'sqlite' && dir) return SqliteStorage.open(join(dir, `${process.pid}-${files++}.db`), opts);
  throw new Error(`usage: storage-host.ts memory | sqlite <dir>`);
}

const handlers: RpcHandlers = {
  'test.fresh': async (opts: StorageFactoryOptions) => {
    await current?.close();
    current = open(opts);
    // The table is looked up per call: the new storage's handlers replace the old ones.
    Object.assign(handlers, storageHandlers(current));
  },
  'test.pid': () => process.pid,
};
serveRpc(process, handlers);

process.on('disconnect', () => process.exit(0));
process.send!({ testChild: 'ready' });
