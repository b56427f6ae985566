// The orchestration's own messages between a primary and its workers (beside the RPC calls of rpc.ts and
// prom-client's, which share the channel): a worker says when it serves, the primary says when to stop.

/** Worker → primary. */
export type WorkerMessage = { latchkey: 'listening'; urls: string[] };

/** Primary → worker: drain and exit, giving requests in flight `graceMs`. */
export type PrimaryMessage = { latchkey: 'stop'; graceMs: number };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  const v = m as Partial<WorkerMessage> | null;
  return typeof v === 'object' && v !== null && v.latchkey === 'listening' && Array.isArray(v.urls);
}

export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  const v = m as Partial<PrimaryMessage> | null;
  return typeof v === 'object' && v !== null && v.latchkey === 'stop' && typeof v.graceMs === 'number';
}
