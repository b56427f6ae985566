// A worker: increments one refresh token's counter (its nonce) through a storage proxy whose host is the
// parent, retrying on Conflict like a caller would. Protocol beside the RPC on the same channel:
// it sends { testChild: 'ready' }, waits for { go: true }, and ends with { done: { successes, conflicts } }.
import { RpcClient } from '../../../src/cluster/rpc.js';
import { connectStorage } from '../../../src/cluster/storage-proxy.js';
import { isConflict } from '../../../src/storage/errors.js';

const [id, times] = process.argv.slice(2);
const storage = await connectStorage(new RpcClient(process));

const go = new Promise<void>((resolve) =>
  process.on('message', (m: unknown) => {
    if ((m as { go?: unknown } | null)?.go === true) resolve();
  }),
);
process.send!({ testChild: 'ready' });
await go;

let successes = 0;
let conflicts = 0;
while (successes < Number(times)) {
  try {
    await storage.updateRefreshToken(id!, (r) => ({ ...r, nonce: String(Number(r.nonce) + 1) }));
    successes++;
  } catch (e) {
    if (!isConflict(e)) throw e;
    conflicts++;
  }
}
await storage.close();
// Let go of the channel once the result is on its way, so the process can end.
process.send!({ done: { successes, conflicts } }, () => process.disconnect());
