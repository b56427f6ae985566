import {
  consentCovers,
  idleTouch,
  isSessionAlive,
  MAX_ANSWERED_APPROVALS,
  reauthenticationReason,
  sessionSharedWith,
  withAnsweredApproval,
  type ReuseQuestion,
} from '../../src/oauth/session-rules.js';

const T0 = new Date('2026-12-05T12:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;

describe('isSessionAlive', () => {
  const s = { absoluteExpiry: at(10 * HOUR), idleExpiry: at(HOUR) };
  it.each([
    [0, true],
    [HOUR - 1, true],
    [HOUR, false],
    [11 * HOUR, false],
  ])('at +%i ms: %s', (ms, alive) => {
    expect(isSessionAlive(s, at(ms))).toBe(alive);
  });
  it('ends at the absolute expiry even when recently used', () => {
    expect(isSessionAlive({ absoluteExpiry: at(HOUR), idleExpiry: at(2 * HOUR) }, at(HOUR))).toBe(false);
  });
});

describe('idleTouch', () => {
  const s = { lastActivity: T0, absoluteExpiry: at(10 * HOUR), idleExpiry: at(HOUR) };
  it('writes nothing while the stored clock is fresher than a tenth of the idle lifetime', () => {
    expect(idleTouch(s, at(HOUR / 10 - 1), HOUR)).toBeUndefined();
  });
  it('moves the idle expiry once it is that stale', () => {
    expect(idleTouch(s, at(HOUR / 10), HOUR)).toEqual({
      lastActivity: at(HOUR / 10),
      idleExpiry: at(HOUR / 10 + HOUR),
    });
  });
  it('never past the absolute expiry', () => {
    expect(idleTouch(s, at(9.5 * HOUR), HOUR)?.idleExpiry).toEqual(at(10 * HOUR));
  });
});

describe('sessionSharedWith', () => {
  it('a client always reuses its own sessions', () => {
    expect(sessionSharedWith([{ id: 'a', ssoSharedWith: [] }], 'a', 'none')).toBe(true);
  });
  it.each([
    [['b'], 'b', 'none', true],
    [['b'], 'c', 'all', false],
    [['*'], 'c', 'none', true],
    [[], 'b', 'all', false],
    [undefined, 'b', 'none', false],
    [undefined, 'b', 'all', true],
  ] as const)(
    'origin shares with %j, asked for %s, default %s: %s',
    (shared, client, byDefault, expected) => {
      const origin = { id: 'a', ...(shared ? { ssoSharedWith: [...shared] } : {}) };
      expect(sessionSharedWith([origin], client, byDefault)).toBe(expected);
    },
  );
  it('is the origin’s choice, not the asking client’s', () => {
    expect(sessionSharedWith([{ id: 'a', ssoSharedWith: [] }], 'b', 'none')).toBe(false);
  });
  it('any of several origins may share', () => {
    const origins = [
      { id: 'a', ssoSharedWith: [] },
      { id: 'c', ssoSharedWith: ['b'] },
    ];
    expect(sessionSharedWith(origins, 'b', 'none')).toBe(true);
  });
  it('no origins, no sharing', () => {
    expect(sessionSharedWith([], 'b', 'all')).toBe(false);
  });
});

describe('reauthenticationReason', () => {
  const base: ReuseQuestion = {
    prompt: [],
    sessionSubject: 'sub-jane',
    connectorUsable: true,
    shared: true,
    authTime: T0,
    now: at(5_000),
  };
  it('serves a plain request from the session', () => {
    expect(reauthenticationReason(base)).toBeUndefined();
  });
  it.each([
    ['prompt=login', { prompt: ['login'] }, 'prompt'],
    ['prompt=select_account', { prompt: ['select_account'] }, 'prompt'],
    ['another user’s hint', { hintSubject: 'sub-max' }, 'hint_mismatch'],
    ['not shared', { shared: false }, 'not_shared'],
    ['connector not usable', { connectorUsable: false }, 'connector'],
    ['max_age passed', { maxAge: 4 }, 'max_age'],
  ] as const)('%s → %s', (_what, patch, reason) => {
    expect(reauthenticationReason({ ...base, ...patch })).toBe(reason);
  });
  it.each([
    ['prompt=consent', { prompt: ['consent'] }],
    ['prompt=none', { prompt: ['none'] }],
    ['this user’s hint', { hintSubject: 'sub-jane' }],
    ['max_age not yet passed', { maxAge: 5 }],
  ] as const)('%s keeps the session', (_what, patch) => {
    expect(reauthenticationReason({ ...base, ...patch })).toBeUndefined();
  });
});

describe('consentCovers', () => {
  it('covers subsets of what was approved for that client only', () => {
    const consents = { a: ['email', 'openid'] };
    expect(consentCovers(consents, 'a', ['openid'])).toBe(true);
    expect(consentCovers(consents, 'a', ['openid', 'groups'])).toBe(false);
    expect(consentCovers(consents, 'b', ['openid'])).toBe(false);
  });
});

describe('withAnsweredApproval', () => {
  it('adds the answer and drops expired ones', () => {
    const out = withAnsweredApproval({ old: at(-1), live: at(HOUR) }, 'new', at(2 * HOUR), T0);
    expect(Object.keys(out).sort()).toEqual(['live', 'new']);
  });
  it('stays bounded, keeping the latest', () => {
    let answered = {};
    for (let i = 0; i < MAX_ANSWERED_APPROVALS * 2; i++) {
      answered = withAnsweredApproval(answered, `id-${i}`, at(HOUR + i), T0);
    }
    expect(Object.keys(answered)).toHaveLength(MAX_ANSWERED_APPROVALS);
    expect(answered).toHaveProperty(`id-${MAX_ANSWERED_APPROVALS * 2 - 1}`);
    expect(answered).not.toHaveProperty('id-0');
  });
});
