// The memory of another Node process, read through its inspector (start it with NODE_OPTIONS
// `--inspect=127.0.0.1:<port>`): a full garbage collection first (HeapProfiler.collectGarbage), then
// process.memoryUsage() evaluated inside it — so "heap used" means live objects, not garbage not yet
// collected. Node's own WebSocket client speaks the inspector protocol; nothing is added to the process.

export interface MemoryFigures {
  rss: number;
  heapUsed: number;
}

interface InspectorTarget {
  webSocketDebuggerUrl: string;
}

/** Forces a full GC in the process listening for the inspector on `port`, then reads its memory. */
export async function memoryAfterGC(port: number): Promise<MemoryFigures> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as InspectorTarget[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), { once: true });
  });
  let nextID = 0;
  const call = (method: string, params: object = {}): Promise<Record<string, unknown>> => {
    const id = ++nextID;
    return new Promise((resolve, reject) => {
      const onMessage = (ev: MessageEvent) => {
        const msg = JSON.parse(String(ev.data)) as {
          id?: number;
          result?: Record<string, unknown>;
          error?: unknown;
        };
        if (msg.id !== id) return;
        socket.removeEventListener('message', onMessage);
        if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
        else resolve(msg.result ?? {});
      };
      socket.addEventListener('message', onMessage);
      socket.send(JSON.stringify({ id, method, params }));
    });
  };
  try {
    // Twice: objects with finalizers or weak references need a second pass to go.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const evaluated = await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    const usage = JSON.parse(String((evaluated.result as { value: unknown }).value)) as MemoryFigures;
    return { rss: usage.rss, heapUsed: usage.heapUsed };
  } finally {
    socket.close();
  }
}

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
