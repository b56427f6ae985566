// A small closed-loop load driver for the fault tests: N workers each run an iteration (a login, a few
// refreshes, …) again and again until stopped; every request they make is timed and judged, so a test can
// say afterwards how many were done, which failed and why, the latency percentiles and how long the service
// took to recover from a fault. Timing figures are printed, never asserted (that is for benchmarks).

/** One timed request. */
export interface Sample {
  op: string;
  /** Date.now() when it was sent. */
  startedAt: number;
  ms: number;
  /** undefined: it succeeded. Otherwise why not: "503 temporarily_unavailable", "ECONNRESET", … */
  failure: string | undefined;
}

export interface OpSummary {
  op: string;
  done: number;
  failed: number;
  /** Failures by reason, e.g. {"503 temporarily_unavailable": 4}. */
  reasons: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export type Attempt<T> = { ok: true; value: T } | { ok: false; reason: string; value?: T };

/** Collects samples; safe to read while workers are still adding to it. */
export class LoadRecorder {
  private readonly samples: Sample[] = [];

  /**
   * Runs one request as `op`: `failureOf` judges what it returned (undefined = success); a throw is a
   * failure named by its network error code or message. Never throws itself.
   */
  async attempt<T>(
    op: string,
    send: () => Promise<T>,
    failureOf: (value: T) => string | undefined = () => undefined,
  ): Promise<Attempt<T>> {
    const startedAt = Date.now();
    const began = performance.now();
    let result: Attempt<T>;
    try {
      const value = await send();
      const reason = failureOf(value);
      result = reason === undefined ? { ok: true, value } : { ok: false, reason, value };
    } catch (e) {
      result = { ok: false, reason: errorReason(e) };
    }
    this.samples.push({
      op,
      startedAt,
      ms: performance.now() - began,
      failure: result.ok ? undefined : result.reason,
    });
    return result;
  }

  /** Samples of `op` (every op when absent) sent at or after `since`. */
  select(op?: string, since = 0): Sample[] {
    return this.samples.filter((s) => (op === undefined || s.op === op) && s.startedAt >= since);
  }

  summary(op: string, since = 0): OpSummary {
    const chosen = this.select(op, since);
    const reasons: Record<string, number> = {};
    for (const s of chosen) if (s.failure !== undefined) reasons[s.failure] = (reasons[s.failure] ?? 0) + 1;
    const ms = chosen.map((s) => s.ms).sort((a, b) => a - b);
    return {
      op,
      done: chosen.length,
      failed: chosen.filter((s) => s.failure !== undefined).length,
      reasons,
      p50Ms: percentile(ms, 0.5),
      p99Ms: percentile(ms, 0.99),
      maxMs: ms.at(-1) ?? 0,
    };
  }

  /** Successes of `op` sent at or after `since`. */
  successes(op: string, since = 0): number {
    return this.select(op, since).filter((s) => s.failure === undefined).length;
  }

  /**
   * How long after `from` (a fault's end) `op` worked again: until the end of the first success sent after
   * the last failure sent at or after `from` (or after `from` itself when nothing failed since); undefined
   * while it has not recovered.
   */
  timeToRecover(op: string, from: number): number | undefined {
    const since = this.select(op, from);
    const lastFailure = since.filter((s) => s.failure !== undefined).at(-1);
    const after = lastFailure?.startedAt ?? from - 1;
    const recovered = since.find((s) => s.failure === undefined && s.startedAt > after);
    return recovered ? Math.round(recovered.startedAt + recovered.ms - from) : undefined;
  }

  /** One line per op: "login: 120 done, 0 failed, p50 85 ms, p99 410 ms, max 900 ms". */
  report(title: string, ops: string[], since = 0): string {
    const lines = ops.map((op) => {
      const s = this.summary(op, since);
      const why = Object.entries(s.reasons)
        .map(([reason, n]) => `${n}× ${reason}`)
        .join(', ');
      return (
        `  ${op}: ${s.done} done, ${s.failed} failed${why ? ` (${why})` : ''}, ` +
        `p50 ${s.p50Ms.toFixed(0)} ms, p99 ${s.p99Ms.toFixed(0)} ms, max ${s.maxMs.toFixed(0)} ms`
      );
    });
    return [`[${title}]`, ...lines].join('\n');
  }
}

export interface LoadRun {
  recorder: LoadRecorder;
  /** Lets every worker finish its current iteration, then resolves. */
  stop(): Promise<void>;
}

/**
 * Starts `workers` loops of `iteration` (each worker gets its index and a signal that aborts on stop). An
 * iteration that throws is recorded as a failure of op "iteration" and the loop goes on. `pauseMs` between
 * iterations keeps a small machine from being saturated by the load itself.
 */
export function startLoad(opts: {
  workers: number;
  iteration: (worker: number, recorder: LoadRecorder, signal: AbortSignal) => Promise<void>;
  pauseMs?: number;
  recorder?: LoadRecorder;
}): LoadRun {
  const recorder = opts.recorder ?? new LoadRecorder();
  const stopping = new AbortController();
  const loop = async (worker: number) => {
    while (!stopping.signal.aborted) {
      await recorder.attempt('iteration', () => opts.iteration(worker, recorder, stopping.signal));
      if (opts.pauseMs && !stopping.signal.aborted) await pause(opts.pauseMs, stopping.signal);
    }
  };
  const loops = Array.from({ length: opts.workers }, (_, i) => loop(i));
  return {
    recorder,
    stop: async () => {
      stopping.abort();
      await Promise.all(loops);
    },
  };
}

/** A JSON OAuth request's outcome as the load judges it. */
export interface OAuthResponse {
  status: number;
  body: Record<string, unknown>;
}

/** "200" is success; anything else is a failure named by status and OAuth error code. */
export function oauthFailure(r: OAuthResponse): string | undefined {
  if (r.status === 200) return undefined;
  const error = typeof r.body.error === 'string' ? ` ${r.body.error}` : '';
  return `${r.status}${error}`;
}

/** POSTs a form and reads a JSON answer (a non-JSON answer keeps its first characters as `raw`). */
export async function postJSON(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<OAuthResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { raw: text.slice(0, 200) };
  }
  return { status: res.status, body };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** The network error code along the cause chain (fetch wraps socket errors), else the message. */
function errorReason(e: unknown): string {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return e instanceof Error ? e.message : String(e);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
