import { createLogger } from '../../src/observability/logger.js';
import { formatLogfmt } from '../../src/observability/logfmt.js';
import type { LoggerConfig } from '../../src/config/types.js';

function capture(cfg: Partial<LoggerConfig>) {
  const lines: string[] = [];
  const logger = createLogger(
    { level: 'debug', format: 'json', excludeFields: [], ...cfg },
    { write: (line: string) => void lines.push(line) },
  );
  return { logger, lines };
}

describe('logger', () => {
  it('writes RFC 3339 time, Dex level names and snake_case fields', () => {
    const { logger, lines } = capture({});
    logger.child({ keySet: 'signing' }).warn({ drainDelayMs: 5, userID: 'u1' }, 'hello');
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 'WARN',
      msg: 'hello',
      key_set: 'signing',
      drain_delay_ms: 5,
      user_id: 'u1',
    });
    expect(record.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    expect(Object.keys(record).filter((k) => /[A-Z]/.test(k))).toEqual([]);
  });

  it('drops excludeFields from bound (child) fields as well as a line’s own', () => {
    const { logger, lines } = capture({ excludeFields: ['email', 'userID'] });
    logger
      .child({ email: 'jane@example.com' })
      .child({ user_id: 'u1' })
      .info({ email: 'x@example.com' }, 'login');
    expect(lines[0]).not.toContain('example.com');
    expect(lines[0]).not.toContain('u1');
  });

  it('censors secrets whatever case the caller spelt them in', () => {
    const { logger, lines } = capture({});
    logger.child({ clientSecret: 'bound-secret' }).info({ bindPW: 'ldap-secret' }, 'x');
    expect(lines[0]).not.toMatch(/bound-secret|ldap-secret/);
  });

  it('writes text as logfmt, one line per record, with slog’s field order', () => {
    const { logger, lines } = capture({ format: 'text' });
    logger
      .child({ request_id: 'r1' })
      .error({ err: new Error('bad\nthing'), web: { http: 'a b' } }, 'failed "x"');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(lines[0]!.trimEnd()).not.toContain('\n');
    expect(lines[0]).toMatch(/^time=\S+ level=ERROR msg="failed \\"x\\"" request_id=r1 /);
    expect(lines[0]).toContain('err.message="bad\\nthing"');
    expect(lines[0]).toContain('web.http="a b"');
  });
});

describe('formatLogfmt', () => {
  it('quotes what a logfmt reader would split on and leaves bare words bare', () => {
    expect(
      formatLogfmt({ msg: 'ok', a: '', b: 'x=y', c: 3, d: true, e: null, f: ['p', 'q'], 'g h': 'v' }),
    ).toBe('msg=ok a="" b="x=y" c=3 d=true e=null f="[\\"p\\",\\"q\\"]" g_h=v');
  });
});
