import { RefreshDeniedError, SubjectTokenError, type Identity } from '../../src/connectors/connector.js';
import { MockCallbackConnector } from '../../src/connectors/mock/callback.js';
import { MockPasswordConnector } from '../../src/connectors/mock/password.js';
import { decode, offline, scopes } from './helpers.js';

const KILGORE: Identity = {
  userID: '0-385-28089-0',
  username: 'Kilgore Trout',
  preferredUsername: 'kilgore',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: ['authors'],
};

describe('mockCallback', () => {
  const connector = new MockCallbackConnector();

  it('sends the browser straight back to the callback with the state, URL-encoded', async () => {
    expect(connector.kind).toBe('callback');
    const state = 'a b&c=d/é+?#';
    const url = (await connector.beginLogin(scopes, 'https://id.example.com/dex/callback')).url(state);
    expect(url).toBe(`https://id.example.com/dex/callback?state=${encodeURIComponent(state)}`);
    expect(new URL(url).searchParams.get('state')).toBe(state);
  });

  it('keeps the callback URL’s own query as written', async () => {
    const url = (await connector.beginLogin(scopes, 'https://id.example.com/callback?x=1%202&y')).url('st');
    expect(url).toBe('https://id.example.com/callback?x=1%202&y&state=st');
  });

  it('replaces a state already in the callback URL rather than adding a second one', async () => {
    const url = (await connector.beginLogin(scopes, 'https://id.example.com/callback?state=old')).url('new');
    expect(new URL(url).searchParams.getAll('state')).toEqual(['new']);
  });

  it('returns Kilgore Trout from the callback', async () => {
    const params = new URLSearchParams({ state: 'st' });
    expect(
      await connector.handleCallback(scopes, 'https://id.example.com/callback', params, undefined),
    ).toEqual(KILGORE);
  });

  it('hands out connectorData with offline access, and refresh keeps it', async () => {
    const identity = await connector.handleCallback(
      offline,
      'https://x/callback',
      new URLSearchParams(),
      undefined,
    );
    expect(new TextDecoder().decode(identity.connectorData)).toBe('foobar');
    const refreshed = await connector.refresh(offline, identity);
    expect(refreshed).toEqual({ ...KILGORE, connectorData: identity.connectorData });
  });

  it('refreshes to the same identity', async () => {
    expect(await connector.refresh(scopes, { ...KILGORE, groups: ['stale'] })).toEqual(KILGORE);
  });

  it('returns the same identity for any non-empty token, and refuses an empty one', async () => {
    expect(
      await connector.tokenIdentity(scopes, 'urn:ietf:params:oauth:token-type:id_token', 'anything'),
    ).toEqual(KILGORE);
    await expect(
      connector.tokenIdentity(scopes, 'urn:ietf:params:oauth:token-type:id_token', ''),
    ).rejects.toBeInstanceOf(SubjectTokenError);
  });

  it('with failRefresh, denies every refresh', async () => {
    const failing = new MockCallbackConnector({ failRefresh: true });
    await expect(failing.refresh(scopes, KILGORE)).rejects.toBeInstanceOf(RefreshDeniedError);
  });

  it('returns a fresh copy each time', async () => {
    const a = await connector.handleCallback(scopes, 'https://x/callback', new URLSearchParams(), undefined);
    a.groups.push('mutated');
    expect(
      (await connector.handleCallback(scopes, 'https://x/callback', new URLSearchParams(), undefined)).groups,
    ).toEqual(['authors']);
  });
});

describe('mockPassword', () => {
  const connector = new MockPasswordConnector({ username: 'kilgore', password: 'trout' });

  it('returns Kilgore Trout for the configured username and password', async () => {
    expect(connector.kind).toBe('password');
    expect(connector.prompt()).toBe('Username');
    expect(await connector.login(scopes, 'kilgore', 'trout')).toEqual(KILGORE);
  });

  it.each([
    ['wrong password', 'kilgore', 'salmon'],
    ['wrong username', 'vonnegut', 'trout'],
    ['both wrong', 'vonnegut', 'salmon'],
    ['password prefix', 'kilgore', 'trou'],
    ['password with a suffix', 'kilgore', 'trout2'],
    ['empty password', 'kilgore', ''],
    ['username case', 'Kilgore', 'trout'],
  ])('refuses %s', async (_, username, password) => {
    expect(await connector.login(scopes, username, password)).toBeUndefined();
  });

  it('refreshes to the same identity', async () => {
    const identity = { ...KILGORE, connectorData: new Uint8Array([1, 2]) };
    expect(await connector.refresh(offline, identity)).toEqual(identity);
    expect(decode(undefined)).toBeUndefined();
  });
});
