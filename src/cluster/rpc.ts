import { randomUUID } from 'node:crypto';
import { UnavailableError } from '../storage/errors.js';
import { decodeError, encodeError, type WireError } from './rpc-errors.js';

// Request/response calls over a Node IPC channel: a forked ChildProcess or a cluster Worker on one side,
// `process` on the other. It knows nothing about clusters, so a test can run it over child_process.fork.
//
// The channel MUST be created with `serialization: 'advanced'` (fork's option; cluster.setupPrimary's
// `serialization` for workers). Values then cross as structured clones, so Date, Uint8Array and Map survive;
// with the default JSON serialization they would arrive silently as strings and plain objects. Every
// message carries a bigint tag, which JSON cannot encode: on a JSON channel the first call fails loudly
// instead of corrupting entities.
//
// Other users of the same channel (prom-client's cluster metrics, the orchestration's own messages) are
// left alone: whatever does not carry the tag is ignored, and a reply names the client it is for, so several
// clients may share one channel.

const TAG = 'latchkeyRpc';
const PROTOCOL = 1n;

/** What both ChildProcess/cluster.Worker and `process` offer. */
export interface RpcChannel {
  /** Absent on a `process` started without an IPC channel. */
  send?(message: object, callback: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
}

interface CallMessage {
  [TAG]: bigint;
  type: 'call';
  client: string;
  id: number;
  method: string;
  args: unknown[];
}

type ReplyMessage = {
  [TAG]: bigint;
  type: 'reply';
  client: string;
  id: number;
} & ({ ok: true; value: unknown } | { ok: false; error: WireError });

function isTagged(m: unknown): m is { [TAG]: bigint; type: unknown } {
  return typeof m === 'object' && m !== null && (m as Record<string, unknown>)[TAG] === PROTOCOL;
}

const isCall = (m: unknown): m is CallMessage => isTagged(m) && m.type === 'call';
const isReply = (m: unknown): m is ReplyMessage => isTagged(m) && m.type === 'reply';

function sendOf(channel: RpcChannel): NonNullable<RpcChannel['send']> {
  if (!channel.send) throw new Error('rpc: the process has no IPC channel (it was not forked with one)');
  return channel.send.bind(channel);
}

// ---- serving -------------------------------------------------------------------------------------------

/** A handler takes the call's arguments as sent; what it returns or throws goes back. */
export type RpcHandler = (...args: never[]) => unknown;
export type RpcHandlers = Record<string, RpcHandler>;

export interface RpcServer {
  /** Stops answering new calls; the channel itself stays open (others may use it). */
  close(): void;
}

/**
 * Answers the calls arriving on `channel` with `handlers`. The table is looked up at each call, so handlers
 * added to it later are served too.
 */
export function serveRpc(channel: RpcChannel, handlers: RpcHandlers): RpcServer {
  const send = sendOf(channel);
  const onMessage = (m: unknown): void => {
    if (isCall(m)) void answer(send, handlers, m);
  };
  channel.on('message', onMessage);
  return { close: () => channel.off('message', onMessage) };
}

async function answer(
  send: NonNullable<RpcChannel['send']>,
  handlers: RpcHandlers,
  call: CallMessage,
): Promise<void> {
  const head = { [TAG]: PROTOCOL, type: 'reply' as const, client: call.client, id: call.id };
  let reply: ReplyMessage;
  try {
    const value = await runHandler(handlers, call);
    reply = { ...head, ok: true, value };
  } catch (e) {
    reply = { ...head, ok: false, error: encodeError(e) };
  }
  try {
    send(reply, ignoreFailedDelivery);
  } catch (e) {
    // The value could not be serialised (a function, a class instance with private state): say so instead.
    const error = encodeError(new Error(`rpc ${call.method}: the result could not be sent: ${errorText(e)}`));
    try {
      send({ ...head, ok: false, error }, ignoreFailedDelivery);
    } catch {
      // Not even that crosses: the channel is unusable, and the caller learns it from its disconnect.
    }
  }
}

/** A caller that went away cannot be told anything: a reply that cannot be delivered is dropped. */
function ignoreFailedDelivery(): void {}

async function runHandler(handlers: RpcHandlers, call: CallMessage): Promise<unknown> {
  // Own properties only: a method named "constructor" or "toString" is not a handler.
  const handler = Object.hasOwn(handlers, call.method) ? handlers[call.method] : undefined;
  if (!handler) throw new Error(`rpc: no method ${JSON.stringify(call.method)}`);
  if (!Array.isArray(call.args)) throw new TypeError(`rpc ${call.method}: arguments are not a list`);
  return handler(...(call.args as never[]));
}

// ---- calling -------------------------------------------------------------------------------------------

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Calls the handlers served on the other side of `channel`. Any number of calls may be in flight; each
 * settles with its own reply. When the channel disconnects (the other process died or let go), every pending
 * call fails with UnavailableError — storage's own "back end unreachable" — and so does every later call.
 */
export class RpcClient {
  /** Names this client in its calls, so replies to another client on the same channel are not taken. */
  private readonly name = randomUUID();
  private readonly send: NonNullable<RpcChannel['send']>;
  private readonly pending = new Map<number, Pending>();
  private nextID = 0;
  private closedBecause: string | undefined;

  constructor(private readonly channel: RpcChannel) {
    this.send = sendOf(channel);
    channel.on('message', this.onMessage);
    channel.on('disconnect', this.onDisconnect);
  }

  /** Calls sent and not yet answered. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  call<T>(method: string, args: unknown[]): Promise<T> {
    if (this.closedBecause !== undefined) {
      return Promise.reject(new UnavailableError(`rpc ${method}: ${this.closedBecause}`));
    }
    const id = this.nextID++;
    const message: CallMessage = { [TAG]: PROTOCOL, type: 'call', client: this.name, id, method, args };
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.send(message, (error) => {
          if (error) this.settle(id, (p) => p.reject(unreachable(method, error)));
        });
      } catch (e) {
        this.pending.delete(id);
        reject(unsendable(method, e));
      }
    });
  }

  /** Fails the pending calls and stops listening; the channel itself stays open (others may use it). */
  close(): void {
    this.shutDown('the rpc client is closed');
  }

  private readonly onMessage = (m: unknown): void => {
    if (!isReply(m) || m.client !== this.name) return;
    this.settle(m.id, (p) => (m.ok ? p.resolve(m.value) : p.reject(decodeError(m.error))));
  };

  private readonly onDisconnect = (): void => {
    this.shutDown('the IPC channel disconnected');
  };

  private settle(id: number, how: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    how(p);
  }

  private shutDown(reason: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    this.channel.off('message', this.onMessage);
    this.channel.off('disconnect', this.onDisconnect);
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const p of failed) p.reject(new UnavailableError(`rpc: ${reason} before the answer came`));
  }
}

function unreachable(method: string, error: Error): UnavailableError {
  return new UnavailableError(`rpc ${method}: the call could not be delivered: ${error.message}`, {
    cause: error,
  });
}

function unsendable(method: string, e: unknown): Error {
  return new Error(
    `rpc ${method}: the call could not be sent (${errorText(e)}); the IPC channel must use ` +
      `serialization: 'advanced' and the arguments must be structured-cloneable`,
    { cause: e },
  );
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
