import { jest } from '@jest/globals';
import { StorageHealthMonitor } from '../../src/observability/storage-health.js';

// The readiness check runs on its own timer; probes read its last result. Fake timers stand in for the
// intervals, so "how many pings" is counted exactly rather than guessed from elapsed time.

/** A storage whose ping does what the test says, counting the calls. */
function storage(ping: () => Promise<void>) {
  const s = { calls: 0, ping: () => (s.calls++, ping()) };
  return s;
}

const never = () => new Promise<void>(() => {});

describe('StorageHealthMonitor', () => {
  afterEach(() => jest.useRealTimers());

  it('is ready after a first ping that answers, and start() waits for that ping', async () => {
    const s = storage(() => Promise.resolve());
    const results: boolean[] = [];
    const monitor = new StorageHealthMonitor(s, { onResult: (r) => results.push(r) });
    expect(monitor.status()).toMatchObject({ ready: false, error: 'storage not checked yet' });
    try {
      expect(await monitor.start()).toMatchObject({ ready: true });
      expect(monitor.status().ready).toBe(true);
      expect(results).toEqual([true]);
    } finally {
      monitor.stop();
    }
  });

  it('answers status() from the last result: reading it never pings', async () => {
    const s = storage(() => Promise.resolve());
    const monitor = new StorageHealthMonitor(s);
    try {
      await monitor.start();
      for (let i = 0; i < 100; i++) monitor.status();
      expect(s.calls).toBe(1);
    } finally {
      monitor.stop();
    }
  });

  it('turns not ready with a ping that never answers, and pings no more while it hangs', async () => {
    jest.useFakeTimers();
    const s = storage(never);
    const monitor = new StorageHealthMonitor(s, { intervalMs: 1_000, timeoutMs: 500 });
    try {
      const first = monitor.start();
      await jest.advanceTimersByTimeAsync(500);
      expect(await first).toMatchObject({ ready: false, error: 'storage did not answer within 500 ms' });
      await jest.advanceTimersByTimeAsync(10_000);
      expect(s.calls).toBe(1);
      expect(monitor.status().ready).toBe(false);
    } finally {
      monitor.stop();
    }
  });

  it('follows storage down and back up, one ping per interval', async () => {
    jest.useFakeTimers();
    let failing = false;
    const s = storage(() =>
      failing ? Promise.reject(new Error('the API server refused the connection')) : Promise.resolve(),
    );
    const results: boolean[] = [];
    const monitor = new StorageHealthMonitor(s, { intervalMs: 1_000, onResult: (r) => results.push(r) });
    try {
      await monitor.start();
      failing = true;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(monitor.status()).toMatchObject({
        ready: false,
        error: 'the API server refused the connection',
      });
      failing = false;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(monitor.status()).toMatchObject({ ready: true });
      expect(s.calls).toBe(3);
      expect(results).toEqual([true, false, true]);
    } finally {
      monitor.stop();
    }
  });

  it('ignores a ping that answers after its deadline, and asks again on the next tick', async () => {
    jest.useFakeTimers();
    let answer!: () => void;
    let slow = true;
    const s = storage(() => (slow ? new Promise<void>((r) => (answer = r)) : Promise.resolve()));
    const monitor = new StorageHealthMonitor(s, { intervalMs: 1_000, timeoutMs: 300 });
    try {
      const first = monitor.start();
      await jest.advanceTimersByTimeAsync(300);
      await first;
      slow = false;
      answer();
      await jest.advanceTimersByTimeAsync(0);
      // The late answer does not count: the replica was not ready when it was asked.
      expect(monitor.status().ready).toBe(false);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(s.calls).toBe(2);
      expect(monitor.status().ready).toBe(true);
    } finally {
      monitor.stop();
    }
  });

  it('stops pinging when stopped or when its signal aborts', async () => {
    jest.useFakeTimers();
    const s = storage(() => Promise.resolve());
    const stopping = new AbortController();
    const monitor = new StorageHealthMonitor(s, { intervalMs: 1_000 });
    await monitor.start(stopping.signal);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(s.calls).toBe(2);
    stopping.abort();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(s.calls).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });
});
