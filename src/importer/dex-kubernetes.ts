import type { KubernetesStorageConfig } from '../config/types.js';
import { KubeApi, KubeApiError, type KubeObject, type ResourceRef } from '../storage/kubernetes/api.js';
import { loadCluster } from '../storage/kubernetes/cluster.js';
import {
  base64Bytes,
  bool,
  bytesText,
  claimsOf,
  isObject,
  optionalStrs,
  parseGoTime,
  refreshMapOf,
  refreshTokenLifetimeOf,
  str,
  strs,
} from './dex-encoding.js';
import type {
  DexClient,
  DexConnector,
  DexKeys,
  DexOfflineSession,
  DexPassword,
  DexRecord,
  DexRefreshToken,
  DexSource,
  ShortLivedCounts,
} from './dex-model.js';

// Dex's Kubernetes storage (reference §5): custom resources of dex.coreos.com/v1 in one namespace, each
// Dex value's fields at the top level of the object (no spec), read with paged LISTs and never written.

const GROUP = 'dex.coreos.com';
const ref = (plural: string): ResourceRef => ({ group: GROUP, version: 'v1', plural });
const CLIENTS = ref('oauth2clients');
const PASSWORDS = ref('passwords');
const CONNECTORS = ref('connectors');
const REFRESH_TOKENS = ref('refreshtokens');
// Dex's own plurals, spelling included (an artefact of its old ThirdPartyResources).
const OFFLINE_SESSIONS = ref('offlinesessionses');
const SIGNING_KEYS = ref('signingkeies');
const KEYS_NAME = 'openid-connect-keys';

const PAGE_SIZE = 500;

type Raw = KubeObject & Record<string, unknown>;

export interface DexKubernetesOptions {
  /** A kubeconfig file; absent with inCluster = the pod's service account. */
  kubeConfigFile?: string;
  inCluster: boolean;
  /** Dex's namespace; empty = the kubeconfig context's (or the pod's), else "default". */
  namespace?: string;
  requestTimeoutMs?: number;
}

export class DexKubernetesSource implements DexSource {
  readonly description: string;
  private sessions: Promise<Map<string, DexOfflineSession>> | undefined;

  private constructor(private readonly api: KubeApi) {
    this.description = `Dex's custom resources (${GROUP}/v1) in namespace "${api.namespace}" at ${api.server}`;
  }

  static open(opts: DexKubernetesOptions): DexKubernetesSource {
    const cfg: KubernetesStorageConfig = {
      type: 'kubernetes',
      inCluster: opts.inCluster,
      ...(opts.kubeConfigFile ? { kubeConfigFile: opts.kubeConfigFile } : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      crdHandling: 'check',
    };
    let cluster;
    try {
      cluster = loadCluster(cfg);
    } catch (e) {
      // loadCluster speaks of Latchkey's storage; here it is Dex's cluster that cannot be reached.
      const reason = (e as Error).message.replace(/^kubernetes storage: /, '');
      throw new Error(`Dex's custom resources: ${reason}`, { cause: e });
    }
    return new DexKubernetesSource(
      new KubeApi(cluster.kc, cluster.namespace, undefined, opts.requestTimeoutMs ?? 30_000),
    );
  }

  clients(): AsyncIterable<DexRecord<DexClient>[]> {
    return this.pages(CLIENTS, decodeClient);
  }
  passwords(): AsyncIterable<DexRecord<DexPassword>[]> {
    return this.pages(PASSWORDS, decodePassword);
  }
  connectors(): AsyncIterable<DexRecord<DexConnector>[]> {
    return this.pages(CONNECTORS, decodeConnector);
  }
  refreshTokens(): AsyncIterable<DexRecord<DexRefreshToken>[]> {
    return this.pages(REFRESH_TOKENS, decodeRefreshToken);
  }

  async refreshTokenCount(): Promise<number | undefined> {
    return this.count(REFRESH_TOKENS);
  }

  /**
   * Dex names an OfflineSessions object by a hash of user and connector; rather than a GET per refresh
   * token, the sessions are read once, in pages, keeping only what a refresh token needs.
   */
  async offlineSession(userID: string, connectorID: string): Promise<DexOfflineSession | undefined> {
    this.sessions ??= this.loadSessions();
    return (await this.sessions).get(sessionKey(userID, connectorID));
  }

  async keys(): Promise<DexKeys | undefined> {
    let o: Raw;
    try {
      o = await this.api.get<Raw>(SIGNING_KEYS, KEYS_NAME);
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw readError(e, SIGNING_KEYS);
    }
    return decodeKeys(o);
  }

  async shortLived(): Promise<ShortLivedCounts> {
    const [authRequests, authCodes, deviceRequests, deviceTokens] = await Promise.all(
      ['authrequests', 'authcodes', 'devicerequests', 'devicetokens'].map(
        async (plural) => (await this.count(ref(plural))) ?? 0,
      ),
    );
    return {
      authRequests: authRequests!,
      authCodes: authCodes!,
      deviceRequests: deviceRequests!,
      deviceTokens: deviceTokens!,
    };
  }

  async close(): Promise<void> {}

  private async loadSessions(): Promise<Map<string, DexOfflineSession>> {
    const out = new Map<string, DexOfflineSession>();
    for await (const page of this.pages(OFFLINE_SESSIONS, decodeOfflineSession)) {
      for (const r of page) {
        if ('value' in r) out.set(sessionKey(r.value.userID, r.value.connectorID), r.value);
      }
    }
    return out;
  }

  /** Every object of a kind, a page at a time; a kind whose CRD does not exist (older Dex) is empty. */
  private async *pages<T>(
    kind: ResourceRef,
    decode: (o: Raw) => T,
  ): AsyncGenerator<DexRecord<T>[], void, undefined> {
    let cont: string | undefined;
    do {
      let list;
      try {
        list = await this.api.list<Raw>(kind, {
          limit: PAGE_SIZE,
          ...(cont !== undefined ? { continue: cont } : {}),
        });
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 404 && cont === undefined) return;
        throw readError(e, kind);
      }
      yield list.items.map((o) => {
        try {
          return { value: decode(o) };
        } catch (e) {
          return { name: o.metadata?.name ?? '(unnamed)', invalid: (e as Error).message };
        }
      });
      cont = list.metadata?.continue || undefined;
    } while (cont !== undefined);
  }

  /** The number of objects, from one LIST of one item (the API server says how many remain). */
  private async count(kind: ResourceRef): Promise<number | undefined> {
    try {
      const list = await this.api.list<Raw>(kind, { limit: 1 });
      const remaining = (list.metadata as { remainingItemCount?: number } | undefined)?.remainingItemCount;
      return list.items.length + (remaining ?? 0);
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return 0;
      throw readError(e, kind);
    }
  }
}

function readError(e: unknown, kind: ResourceRef): Error {
  if (e instanceof KubeApiError && e.status === 403) {
    return new Error(
      `cannot read Dex's ${kind.plural}.${GROUP}: forbidden (the importer needs get and list on ${GROUP} in Dex's namespace)`,
      { cause: e },
    );
  }
  if (e instanceof KubeApiError && e.status === 410) {
    return new Error(
      `reading Dex's ${kind.plural}.${GROUP} took longer than the API server keeps a list consistent; run the import again`,
      { cause: e },
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

const sessionKey = (userID: string, connectorID: string): string => JSON.stringify([userID, connectorID]);

function required(o: Raw, field: string, what: string): string {
  const v = str(o, field);
  if (v === '') throw new Error(`${what} has no ${field}`);
  return v;
}

function time(o: Raw, field: string, what: string): Date {
  const t = parseGoTime(o[field]);
  if (t === undefined) throw new Error(`${what}: ${field} is not a time`);
  return t;
}

function decodeClient(o: Raw): DexClient {
  const allowed = strs(o.allowedConnectors);
  const postLogout = strs(o.postLogoutRedirectURIs);
  const backchannel = str(o, 'backchannelLogoutURI');
  const ssoSharedWith = optionalStrs(o.ssoSharedWith);
  const lifetime = refreshTokenLifetimeOf(o.refreshTokenLifetime);
  return {
    id: required(o, 'id', 'client'),
    secret: str(o, 'secret'),
    redirectURIs: strs(o.redirectURIs),
    trustedPeers: strs(o.trustedPeers),
    public: bool(o.public),
    name: str(o, 'name'),
    logoURL: str(o, 'logoURL'),
    ...(allowed.length > 0 ? { allowedConnectors: allowed } : {}),
    ...(postLogout.length > 0 ? { postLogoutRedirectURIs: postLogout } : {}),
    ...(backchannel !== '' ? { backchannelLogoutURI: backchannel } : {}),
    ...(ssoSharedWith !== undefined ? { ssoSharedWith } : {}),
    ...(lifetime !== undefined ? { refreshTokenLifetime: lifetime } : {}),
  };
}

function decodePassword(o: Raw): DexPassword {
  return {
    email: required(o, 'email', 'password'),
    hash: bytesText(base64Bytes(o.hash)),
    username: str(o, 'username'),
    userID: str(o, 'userID'),
    ...(typeof o.name === 'string' && o.name !== '' ? { name: o.name } : {}),
    ...(typeof o.preferredUsername === 'string' && o.preferredUsername !== ''
      ? { preferredUsername: o.preferredUsername }
      : {}),
    ...(typeof o.emailVerified === 'boolean' ? { emailVerified: o.emailVerified } : {}),
    groups: strs(o.groups),
  };
}

function decodeConnector(o: Raw): DexConnector {
  const grantTypes = strs(o.grantTypes);
  return {
    id: required(o, 'id', 'connector'),
    type: required(o, 'type', 'connector'),
    name: str(o, 'name'),
    config: base64Bytes(o.config) ?? new Uint8Array(),
    ...(grantTypes.length > 0 ? { grantTypes } : {}),
  };
}

function decodeRefreshToken(o: Raw): DexRefreshToken {
  const what = `refresh token ${o.metadata?.name ?? ''}`;
  const connectorData = base64Bytes(o.connectorData);
  return {
    // A refresh token's ID is its object name.
    id: o.metadata.name,
    clientID: str(o, 'clientID'),
    scopes: strs(o.scopes),
    nonce: str(o, 'nonce'),
    token: str(o, 'token'),
    obsoleteToken: str(o, 'obsoleteToken'),
    claims: claimsOf(isObject(o.claims) ? o.claims : {}),
    connectorID: str(o, 'connectorID'),
    ...(connectorData ? { connectorData } : {}),
    // Go fields without JSON tags: capitalised.
    createdAt: time(o, 'CreatedAt', what),
    lastUsed: time(o, 'LastUsed', what),
  };
}

function decodeOfflineSession(o: Raw): DexOfflineSession {
  const connectorData = base64Bytes(o.connectorData);
  return {
    userID: str(o, 'userID'),
    connectorID: str(o, 'connID'),
    refresh: refreshMapOf(o.refresh),
    ...(connectorData ? { connectorData } : {}),
  };
}

function decodeKeys(o: Raw): DexKeys {
  const nextRotation = parseGoTime(o.nextRotation);
  if (nextRotation === undefined) throw new Error(`Dex's signing keys: nextRotation is not a time`);
  const verificationKeys = (Array.isArray(o.verificationKeys) ? o.verificationKeys : []).flatMap((v) => {
    const expiry = isObject(v) ? parseGoTime(v.expiry) : undefined;
    return isObject(v) && isObject(v.publicKey) && expiry ? [{ publicKey: v.publicKey, expiry }] : [];
  });
  return {
    ...(isObject(o.signingKeyPub) ? { signingKeyPub: o.signingKeyPub } : {}),
    verificationKeys,
    nextRotation,
  };
}
