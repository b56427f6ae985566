import type { ChildProcess } from 'node:child_process';
import type { RpcChannel } from '../../src/cluster/rpc.js';

// A channel over a child's IPC that records what is sent through it and can hold back chosen messages, so a
// test can see which calls a client makes and order them against other clients' calls.

export interface SentCall {
  client: string;
  id: number;
  method: string;
  args: unknown[];
}

export class RecordingChannel implements RpcChannel {
  readonly sent: SentCall[] = [];
  private readonly heldBack: (() => void)[] = [];
  /** Calls of this method are held back until release(). */
  holdBack: string | undefined;

  constructor(private readonly child: ChildProcess) {}

  send(message: object, callback: (error: Error | null) => void): boolean {
    const call = message as SentCall;
    this.sent.push(call);
    if (call.method !== this.holdBack) return this.child.send(message, callback);
    this.heldBack.push(() => this.child.send(message, callback));
    return true;
  }

  /** Sends the held-back messages, in order. */
  release(): number {
    const n = this.heldBack.length;
    for (const send of this.heldBack.splice(0)) send();
    return n;
  }

  methods(): string[] {
    return this.sent.map((c) => c.method);
  }

  on(event: 'message' | 'disconnect', listener: (...args: unknown[]) => void): this {
    this.child.on(event, listener);
    return this;
  }

  off(event: 'message' | 'disconnect', listener: (...args: unknown[]) => void): this {
    this.child.off(event, listener);
    return this;
  }
}
