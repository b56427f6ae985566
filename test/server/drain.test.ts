import http from 'node:http';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { listen } from '../../src/server/listen.js';
import { startInProcess } from '../helpers/in-process.js';
import { freePort } from '../helpers/net.js';

// A graceful stop in the order a pod behind a Service needs (issue 13, rolling restart): readiness false
// first while still serving, every connection closed after its response, new connections refused only at
// the end of the drain delay, requests in flight answered.

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
  reusedSocket: boolean;
}

function get(url: string, agent?: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { ...(agent ? { agent } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          connection: res.headers.connection,
          body,
          reusedSocket: req.reusedSocket,
        }),
      );
    });
    req.on('error', reject);
  });
}

const refused = (url: string) =>
  get(url).then(
    () => 'answered',
    (e: NodeJS.ErrnoException) => e.code,
  );

describe('listener drain', () => {
  it('serves a kept-alive connection and an in-flight request to the end, with Connection: close', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const slowArrived = new Promise<void>((r) => (arrived = r));
    const l = await listen('127.0.0.1:0', (req, res) => {
      if (req.url === '/slow') {
        arrived();
        void held.then(() => res.end('slow done'));
      } else res.end('ok');
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(`${l.url}/`, agent);
      expect(first.connection).toBe('keep-alive');
      const slow = get(`${l.url}/slow`, new http.Agent({ keepAlive: true }));
      await slowArrived;

      l.drain();
      const onKeptAlive = await get(`${l.url}/`, agent);
      expect(onKeptAlive).toMatchObject({ status: 200, connection: 'close', reusedSocket: true });
      const fresh = await get(`${l.url}/`);
      expect(fresh).toMatchObject({ status: 200, connection: 'close' });

      const closing = l.close(10_000);
      expect(await refused(`${l.url}/`)).toBe('ECONNREFUSED');
      release();
      expect(await slow).toMatchObject({ status: 200, body: 'slow done', connection: 'close' });
      await closing;
    } finally {
      agent.destroy();
      release();
    }
  });
});

describe('latchkey stop with web.drainDelay', () => {
  it('answers not ready at once, keeps serving through the delay, then refuses new connections', async () => {
    const telemetryPort = await freePort();
    const server = await startInProcess(`telemetry:\n  http: 127.0.0.1:${telemetryPort}`, {
      web: '  drainDelay: 3s',
    });
    const ready = `http://127.0.0.1:${telemetryPort}/healthz/ready`;
    const discovery = `${server.issuer}/.well-known/openid-configuration`;
    expect((await get(ready)).status).toBe(200);
    expect((await get(`${server.issuer}/healthz`)).status).toBe(200);

    let closed = false;
    const closing = server.running.close(5_000).then(() => (closed = true));
    const notReady = await get(ready);
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toMatchObject({ ready: false, error: 'shutting down' });
    expect((await get(`${server.issuer}/healthz`)).status).toBe(503);
    // Still serving, on a new connection, while the delay runs.
    const during = await get(discovery);
    expect(closed).toBe(false);
    expect(during).toMatchObject({ status: 200, connection: 'close' });
    expect(
      server.logs().some((l) => l.msg === 'draining: not ready; refusing new connections after the delay'),
    ).toBe(true);

    await closing;
    expect(await refused(discovery)).toBe('ECONNREFUSED');
    expect(await refused(ready)).toBe('ECONNREFUSED');
  });
});

describe('web.drainDelay', () => {
  const load = (drain: string) =>
    parseConfig(
      `issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\n${drain}`,
      {},
    );

  it('is a Go duration, absent (no delay) unless set', () => {
    expect(load('').config.web.drainDelay).toBeUndefined();
    expect(load('  drainDelay: 10s').config.web.drainDelay).toBe(10_000);
    expect(load('  drainDelay: "0s"').config.web.drainDelay).toBe(0);
  });

  it('refuses what is not a positive duration, naming the key', () => {
    for (const bad of ['  drainDelay: -5s', '  drainDelay: soon']) {
      let problems: string[] = [];
      try {
        load(bad);
      } catch (e) {
        if (e instanceof ConfigError) problems = e.problems;
      }
      expect(problems).toEqual([expect.stringMatching(/^web\.drainDelay: /)]);
    }
  });
});
