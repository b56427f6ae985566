import { request as httpRequest, Agent } from 'node:http';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from './cli.js';

// The hostile-input sweep's table (issue 13, "Faults survived"): endpoints described once as a request they
// would accept (`Target`), and ways to spoil any request (`Mutation`); every target meets every mutation that
// applies to it. `judge` holds what no answer may do, whatever was sent: a 5xx, a stack trace or an internal
// path in the body, a redirect anywhere but the issuer's own pages or a registered redirect URI, an error
// that is neither an OAuth error (JSON with `error`) nor an HTML page — and accepting a request whose
// parameters were mangled in shape (a repeated, array- or object-shaped parameter is not the parameter).

export type Where = 'query' | 'body';

/** One endpoint, as a request it would accept. */
export interface Target {
  name: string;
  method: 'GET' | 'POST';
  /** Absolute URL of the endpoint; `{seg}` marks a path segment the path mutations replace. */
  url: string;
  /** The segment `{seg}` stands for in a well-formed request (e.g. the connector ID). */
  segment?: string;
  where: Where;
  params: Record<string, string>;
  /** Query parameters kept as they are when the body is spoilt (the login form's sealed request). */
  fixedQuery?: Record<string, string>;
  headers?: Record<string, string>;
  /** How the request authenticates: the header mutations of that kind spoil it. */
  auth?: 'basic' | 'bearer' | 'cookie';
  /** Reads none of `params` (discovery, a page): a success is fine whatever they look like. */
  ignoresParams?: boolean;
  /** Every parameter is optional (a default applies): a request without them is still well-formed. */
  optionalParams?: boolean;
  /** How the unspoilt request is answered: served (the default), or refused (a made-up code). */
  control?: Outcome;
}

export interface HostileRequest {
  method: string;
  /** Absolute URL, sent byte for byte as written (no re-encoding). */
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface Mutation {
  name: string;
  appliesTo(t: Target): boolean;
  /**
   * The parameters no longer have the shape the endpoint reads (missing, repeated, array- or
   * object-shaped, not a form): the request must be refused. Value mutations leave this false — an
   * opaque value may legitimately be anything.
   */
  spoils: boolean;
  /**
   * May be refused by Node's HTTP parser before the application sees it (an over-long request line): a 431
   * or a connection closed mid-request, body not judged.
   */
  httpLayer?: boolean;
  build(t: Target): HostileRequest;
}

export interface HostileCase {
  target: Target;
  mutation: Mutation;
  request: HostileRequest;
}

/** The unspoilt request: checks that a target is described right (its control outcome). */
export const UNCHANGED: Mutation = {
  name: 'unchanged',
  appliesTo: () => true,
  spoils: false,
  build: (t) => withPairs(t, pairsOf(t.params)),
};

/** Every mutation that applies to every target. */
export function hostileCases(targets: Target[], mutations: Mutation[] = MUTATIONS): HostileCase[] {
  const out: HostileCase[] = [];
  for (const target of targets) {
    for (const mutation of mutations) {
      if (mutation.appliesTo(target)) out.push({ target, mutation, request: mutation.build(target) });
    }
  }
  return out;
}

type Pair = [key: string, value: string];

const enc = (s: string) => encodeURIComponent(s);
const pairsOf = (params: Record<string, string>): Pair[] =>
  Object.entries(params).map(([k, v]) => [enc(k), enc(v)]);
const joinPairs = (pairs: Pair[]) => pairs.map(([k, v]) => `${k}=${v}`).join('&');

const FORM = 'application/x-www-form-urlencoded';
const MB = 1024 * 1024;

/** The target's request with its parameters replaced by already-encoded `pairs`. */
function withPairs(t: Target, pairs: Pair[], extra: Partial<HostileRequest> = {}): HostileRequest {
  const url = t.url.replace('{seg}', enc(t.segment ?? ''));
  const headers = { ...t.headers };
  if (t.where === 'query') {
    const query = joinPairs(pairs);
    return { method: t.method, url: query ? `${url}?${query}` : url, headers, ...extra };
  }
  const fixed = t.fixedQuery ? `?${joinPairs(pairsOf(t.fixedQuery))}` : '';
  return {
    method: t.method,
    url: `${url}${fixed}`,
    headers: { 'content-type': FORM, ...headers },
    body: Buffer.from(joinPairs(pairs)),
    ...extra,
  };
}

/** The target's well-formed body with other headers (content type, encoding). */
function withBody(t: Target, body: Buffer, headers: Record<string, string>): HostileRequest {
  const base = withPairs(t, pairsOf(t.params));
  const kept = Object.fromEntries(Object.entries(base.headers).filter(([k]) => k !== 'content-type'));
  return { ...base, headers: { ...kept, ...headers }, body };
}

const withHeader = (t: Target, name: string, value: string): HostileRequest => {
  const base = withPairs(t, pairsOf(t.params));
  return { ...base, headers: { ...base.headers, [name]: value } };
};

const shape = (name: string, rewrite: (pairs: Pair[]) => Pair[]): Mutation => ({
  name,
  appliesTo: () => true,
  spoils: true,
  build: (t) => withPairs(t, rewrite(pairsOf(t.params))),
});

const value = (name: string, rewrite: (v: string, index: number) => string): Mutation => ({
  name,
  appliesTo: () => true,
  spoils: false,
  build: (t) =>
    withPairs(
      t,
      pairsOf(t.params).map(([k, v], i) => [k, rewrite(v, i)]),
    ),
});

const noise = (name: string, extra: Pair[]): Mutation => ({
  name,
  appliesTo: () => true,
  spoils: false,
  build: (t) => withPairs(t, [...pairsOf(t.params), ...extra]),
});

const body = (
  name: string,
  make: (t: Target) => { body: Buffer; headers: Record<string, string> },
  spoils = true,
) =>
  ({
    name,
    appliesTo: (t) => t.where === 'body',
    spoils,
    build: (t) => {
      const { body: b, headers } = make(t);
      return withBody(t, b, headers);
    },
  }) satisfies Mutation;

const header = (
  name: string,
  kind: NonNullable<Target['auth']>,
  headerName: string,
  headerValue: (t: Target) => string,
): Mutation => ({
  name,
  appliesTo: (t) => t.auth === kind,
  spoils: true,
  build: (t) => withHeader(t, headerName, headerValue(t)),
});

const path = (name: string, segment: string): Mutation => ({
  name,
  appliesTo: (t) => t.segment !== undefined,
  spoils: true,
  build: (t) => {
    const base = withPairs(t, pairsOf(t.params));
    return { ...base, url: base.url.replace(`/${enc(t.segment!)}`, `/${segment}`) };
  },
});

const formText = (t: Target) => joinPairs(pairsOf(t.params));
const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
const unsignedJWT = () =>
  [
    Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify({ iss: 'x', sub: 'admin', exp: 4_000_000_000 })).toString('base64url'),
    '',
  ].join('.');

function multipart(t: Target): { body: Buffer; headers: Record<string, string> } {
  const boundary = 'latchkeyhostile';
  const parts = Object.entries(t.params).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  return {
    body: Buffer.from(`${parts.join('')}--${boundary}--\r\n`),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** Every way the sweep spoils a request. */
export const MUTATIONS: Mutation[] = [
  // Shape: the parameter the endpoint reads is missing, repeated, or not a string.
  shape('empty', () => []),
  shape('empty values', (pairs) => pairs.map(([k]) => [k, ''])),
  shape('every parameter twice', (pairs) => pairs.flatMap((p) => [p, p])),
  shape('every parameter twice, differing', (pairs) =>
    pairs.flatMap(
      ([k, v]) =>
        [
          [k, v],
          [k, `${v}x`],
        ] as Pair[],
    ),
  ),
  shape('array-shaped a[]=1', (pairs) => pairs.map(([k, v]) => [`${k}%5B%5D`, v])),
  shape('array-shaped a[0]=1', (pairs) => pairs.map(([k, v]) => [`${k}[0]`, v])),
  shape('object-shaped a[b]=1', (pairs) =>
    pairs.flatMap(
      ([k, v]) =>
        [
          [`${k}[b]`, v],
          [`${k}[c][d]`, v],
        ] as Pair[],
    ),
  ),
  // Values: opaque values may be anything, but must never break the server or leak into headers.
  value('bad percent-encoding', (v) => `${v}%ZZ%E0%A4%`),
  value('invalid UTF-8', (v) => `${v}%FF%FE%C0%80%ED%A0%80`),
  value('NUL, CR/LF and a header', (v) => `${v}%00%0D%0ASet-Cookie:%20injected=1`),
  value('HTML and script', (v) => `${v}${enc('"><script>alert(1)</script><img src=x onerror=alert(1)>')}`),
  value('long values (within the limits)', (v) => `${v}${'A'.repeat(1500)}`),
  // Noise: unknown parameters are ignored (RFC 6749 §3.1) — prototype keys and brackets included.
  noise('prototype keys', [
    ['__proto__', 'x'],
    ['__proto__[admin]', '1'],
    ['constructor[prototype][admin]', '1'],
    ['hasOwnProperty', 'x'],
    ['toString', 'x'],
  ]),
  noise('bracket noise', [
    ['a[]', '1'],
    ['a[]', '2'],
    ['b[c]', '1'],
    ['b[c][d][e][f][g]', '1'],
  ]),
  {
    name: '2000 parameters',
    appliesTo: () => true,
    // Beyond the body parser's parameter limit: a body is refused; a query keeps its first 1000 keys.
    spoils: false,
    build: (t) =>
      withPairs(t, [...pairsOf(t.params), ...Array.from({ length: 2000 }, (_, i): Pair => [`p${i}`, '1'])]),
  },
  {
    name: 'the other method',
    appliesTo: () => true,
    // /auth and /userinfo take both: only the invariants apply.
    spoils: false,
    build: (t) =>
      withPairs(
        { ...t, method: t.method === 'GET' ? 'POST' : 'GET', where: t.where === 'query' ? 'body' : 'query' },
        pairsOf(t.params),
      ),
  },
  {
    name: '1 MB',
    appliesTo: () => true,
    spoils: true,
    // In a query, Node's HTTP parser refuses the request line (431) before the application sees it.
    httpLayer: true,
    build: (t) => withPairs(t, [...pairsOf(t.params), ['pad', 'A'.repeat(MB)]]),
  },
  {
    name: 'forged Host, Forwarded and X-Forwarded-*',
    appliesTo: () => true,
    // No proxy is trusted here: none of these may steer a redirect or an address.
    spoils: false,
    build: (t) => {
      const base = withPairs(t, pairsOf(t.params));
      return {
        ...base,
        headers: {
          ...base.headers,
          host: 'evil.example',
          forwarded: 'for=evil;host=evil.example;proto=javascript',
          'x-forwarded-for': 'not-an-address, 999.1.1.1, ::1',
          'x-forwarded-host': 'evil.example',
          'x-forwarded-proto': 'javascript',
          origin: 'null',
        },
      };
    },
  },
  // Bodies: not a form, or a form the server cannot read.
  body('form sent as application/json', (t) => ({
    body: Buffer.from(formText(t)),
    headers: { 'content-type': 'application/json' },
  })),
  body('malformed JSON', () => ({
    body: Buffer.from('{"grant_type": "refresh_token", "x": [1, 2'),
    headers: { 'content-type': 'application/json' },
  })),
  body('well-formed JSON', (t) => ({
    body: Buffer.from(JSON.stringify({ ...t.params, nested: { a: [1, { b: null }] } })),
    headers: { 'content-type': 'application/json' },
  })),
  body('text/plain', (t) => ({ body: Buffer.from(formText(t)), headers: { 'content-type': 'text/plain' } })),
  body('no Content-Type', (t) => ({ body: Buffer.from(formText(t)), headers: {} })),
  body('multipart/form-data', multipart),
  body('charset=utf-16', (t) => ({
    body: Buffer.from(formText(t)),
    headers: { 'content-type': `${FORM}; charset=utf-16` },
  })),
  body('unknown charset', (t) => ({
    body: Buffer.from(formText(t)),
    headers: { 'content-type': `${FORM}; charset=x-no-such-charset` },
  })),
  body(
    'raw invalid UTF-8 bytes',
    (t) => ({
      // `&x=` then bytes that are not UTF-8: the other parameters stay readable.
      body: Buffer.concat([
        Buffer.from(formText(t)),
        Buffer.from([0x26, 0x78, 0x3d, 0xff, 0xfe, 0xc0, 0x80]),
      ]),
      headers: { 'content-type': `${FORM}; charset=utf-8` },
    }),
    false,
  ),
  body('gzip that is not gzip', (t) => ({
    body: Buffer.from(formText(t)),
    headers: { 'content-type': FORM, 'content-encoding': 'gzip' },
  })),
  body('gzip bomb (10 MB inflated)', () => ({
    body: gzipSync(Buffer.alloc(10 * MB, 'a')),
    headers: { 'content-type': FORM, 'content-encoding': 'gzip' },
  })),
  body('unknown Content-Encoding', (t) => ({
    body: Buffer.from(formText(t)),
    headers: { 'content-type': FORM, 'content-encoding': 'x-no-such-coding' },
  })),
  // Credentials: malformed HTTP Basic, bearer tokens that are not this issuer's, browser cookies mangled.
  header('Basic not base64', 'basic', 'authorization', () => 'Basic %%%not-base64%%%'),
  header('Basic bad percent-encoding', 'basic', 'authorization', () => basic('%ZZ%E0:%FF%')),
  header('Basic without colon', 'basic', 'authorization', () => basic('example-app')),
  header('Basic 12 KB', 'basic', 'authorization', () => basic(`${'a'.repeat(6000)}:${'b'.repeat(3000)}`)),
  {
    name: 'Basic and client_secret both',
    appliesTo: (t) => t.auth === 'basic' && t.where === 'body',
    spoils: true,
    build: (t) => withPairs(t, [...pairsOf(t.params), ['client_secret', 'ZXhhbXBsZS1hcHAtc2VjcmV0']]),
  },
  header('Bearer garbage', 'bearer', 'authorization', () => 'Bearer a.b.c'),
  header('Bearer alg none', 'bearer', 'authorization', () => `Bearer ${unsignedJWT()}`),
  header('Bearer 12 KB', 'bearer', 'authorization', () => `Bearer ${'a'.repeat(12_000)}`),
  header('Bearer twice', 'bearer', 'authorization', (t) => `${t.headers!.authorization!} Bearer x`),
  header('cookie garbage', 'cookie', 'cookie', () => 'latchkey_browser=%ZZ%; =; ;;; latchkey_browser=%FF'),
  header(
    'cookie as JSON object',
    'cookie',
    'cookie',
    () => `latchkey_browser=${enc('j:{"__proto__":{"a":1},"b":[1]}')}`,
  ),
  header('cookie 12 KB', 'cookie', 'cookie', () => `latchkey_browser=${'a'.repeat(12_000)}`),
  header(
    'cookie of another browser',
    'cookie',
    'cookie',
    () => 'latchkey_browser=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  ),
  // Paths: the segment a route reads, mangled.
  path('path: bad percent-encoding', '%ZZ'),
  path('path: invalid UTF-8', '%FF%FE'),
  path('path: NUL', 'a%00b'),
  path('path: encoded traversal', '..%2F..%2F..%2Fetc%2Fpasswd'),
  path('path: 4 KB segment', 'c'.repeat(4096)),
];

export interface RawResponse {
  /** 0 when the connection failed before an answer (`error` says how). */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  error?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/**
 * Sends a request byte for byte (no URL normalisation, no added encoding); 30 s per request. A connection
 * that fails before an answer resolves with status 0.
 */
export function sendRaw(req: HostileRequest): Promise<RawResponse> {
  const url = new URL(req.url);
  const pathAndQuery = req.url.slice(url.origin.length);
  return new Promise((resolve) => {
    const failed = (e: Error) => resolve({ status: 0, headers: {}, body: '', error: e.message });
    const r = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: pathAndQuery,
        headers: { ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) },
        agent,
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', failed);
      },
    );
    r.on('timeout', () => r.destroy(new Error('no answer within 30 s')));
    r.on('error', failed);
    r.end(req.body);
  });
}

/** Closes the sweep's keep-alive connections. */
export function closeConnections(): void {
  agent.destroy();
}

/** Where a redirect may lead: the issuer's (or app's) own pages and registered redirect URIs. */
export interface RedirectPolicy {
  /** URL prefixes of the server's own pages (`http://127.0.0.1:1234/dex/`). */
  ownPages: string[];
  /** Registered redirect URIs (matched without their query). */
  registered: string[];
}

export type Outcome = 'refused' | 'served' | 'http-layer';

export interface Verdict {
  outcome: Outcome;
  problems: string[];
}

const LEAKS: [RegExp, string][] = [
  [/\n\s+at [^\n]+:\d+:\d+/, 'a stack trace'],
  [/node_modules/, 'a node_modules path'],
  [new RegExp(REPO_ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the install path'],
  [/\/(?:src|dist)\/[\w/.-]+\.(?:ts|js)\b/, 'a source path'],
  [/file:\/\//, 'a file URL'],
  [
    /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|PayloadTooLargeError|UnsupportedMediaTypeError)\b/,
    'an internal error name',
  ],
];

/** What no answer to a hostile request may do. */
export function judge(c: HostileCase, res: RawResponse, redirects: RedirectPolicy): Verdict {
  const problems: string[] = [];
  const contentType = String(res.headers['content-type'] ?? '');
  const location = res.headers.location;
  let outcome: Outcome;
  if (res.status >= 500) problems.push(`answered ${res.status}`);
  for (const [pattern, what] of LEAKS) if (pattern.test(res.body)) problems.push(`body shows ${what}`);
  for (const name of Object.keys(res.headers)) {
    if (name.toLowerCase() === 'set-cookie' && String(res.headers[name]).includes('injected'))
      problems.push('a parameter became a Set-Cookie header');
  }

  if (c.mutation.httpLayer && c.target.where === 'query' && [0, 414, 431].includes(res.status)) {
    return { outcome: 'http-layer', problems };
  }
  if (res.status === 0) return { outcome: 'refused', problems: [...problems, `no answer: ${res.error}`] };
  if (res.status >= 300 && res.status < 400) {
    if (typeof location !== 'string') {
      problems.push(`redirect ${res.status} without a Location`);
      outcome = 'refused';
    } else {
      const target = new URL(location, c.request.url);
      const bare = `${target.origin}${target.pathname}`;
      const own = redirects.ownPages.some((p) => target.toString().startsWith(p));
      const registered = redirects.registered.includes(bare);
      if (!own && !registered) problems.push(`redirect to an unverified URI ${location.slice(0, 200)}`);
      outcome = registered && target.searchParams.has('error') ? 'refused' : 'served';
    }
  } else if (res.status >= 400) {
    outcome = 'refused';
    const json = /^application\/json\b/.test(contentType);
    const html = /^text\/html\b/.test(contentType) && /<html[\s>]/i.test(res.body);
    if (json) {
      try {
        const parsed = JSON.parse(res.body) as { error?: unknown };
        if (typeof parsed.error !== 'string' || parsed.error === '')
          problems.push('JSON error without `error`');
      } catch {
        problems.push('invalid JSON error body');
      }
    } else if (!html) {
      problems.push(
        `a ${res.status} that is neither an OAuth error nor an HTML page (${contentType || 'no type'})`,
      );
    }
  } else {
    outcome = 'served';
  }
  if (outcome === 'served' && c.mutation.spoils && !c.target.ignoresParams && !c.target.optionalParams) {
    problems.push(`accepted (${res.status}) a request whose parameters were spoilt`);
  }
  return { outcome, problems };
}
