// An RPC server in a child process, with handlers that let the tests hold calls open, fail in every way,
// and talk on the channel beside the RPC as other users of it (prom-client) do.
import { serveRpc } from '../../../src/cluster/rpc.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  UnavailableError,
} from '../../../src/storage/errors.js';
import { ReadOnlyError } from '../../../src/storage/static.js';

const send = (m: object): void => void process.send!(m);

const FAILURES: Record<string, () => unknown> = {
  NotFound: () => new NotFoundError('client "x"'),
  AlreadyExists: () => new AlreadyExistsError('client "x"'),
  Conflict: () => new ConflictError('client "x"'),
  Unavailable: () => new UnavailableError('the back end is down'),
  ReadOnly: () => new ReadOnlyError('client "x"'),
  TypeError: () => new TypeError('bad input in the host'),
  string: () => 'a thrown string',
};

/** Calls held open, by name, until released. */
const held = new Map<string, (value: unknown) => void>();
let foreignMessages = 0;

/** Counts what is not this RPC protocol's (version 1n): what the server must leave alone. */
process.on('message', (m: unknown) => {
  if ((m as { latchkeyRpc?: unknown }).latchkeyRpc !== 1n) foreignMessages++;
});

serveRpc(process, {
  echo: (value: unknown) => value,
  fail: (kind: string) => {
    throw FAILURES[kind]!();
  },
  hold: (name: string) => new Promise((resolve) => held.set(name, resolve)),
  release: (name: string, value: unknown) => {
    held.get(name)!(value);
    held.delete(name);
    return held.size;
  },
  foreignMessages: () => foreignMessages,
  /** Sends look-alike replies to `client` (untagged, and tagged for another client), then answers. */
  chatter: (value: unknown, client: string, ids: number) => {
    for (let id = 0; id < ids; id++) {
      send({ type: 'reply', client, id, ok: true, value: 'forged' });
      send({ latchkeyRpc: 1n, type: 'reply', client: `not-${client}`, id, ok: true, value: 'forged' });
    }
    return value;
  },
  unsendable: () => () => 'a function cannot be cloned',
});

process.on('disconnect', () => process.exit(0));
send({ testChild: 'ready' });
