import {
  canExchangeTokens,
  ConnectorError,
  SubjectTokenError,
  TOKEN_TYPE_ACCESS,
  TOKEN_TYPE_ID,
} from '../connectors/connector.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import type { Client } from '../storage/storage.js';
import type { Authorization } from '../tokens/authorization.js';
import { checkConnectorUse } from './connector-policy.js';
import { OAuthError } from './errors.js';
import type { IssuedTokenType } from './issuance.js';
import { claimsOf } from './login.js';
import { connectorScopes, splitScopes, validateScopes } from './scopes.js';

// RFC 8693 token exchange as Dex offers it (reference §2; seed §3): a machine presents a token from an
// upstream issuer it trusts (a CI job's OIDC token) and gets a Latchkey token for the same identity. The
// connector named by `connector_id` (a Dex extension) verifies the subject token.

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange' as const;
const SUBJECT_TOKEN_TYPES: readonly string[] = [TOKEN_TYPE_ID, TOKEN_TYPE_ACCESS];
const REQUESTED_TOKEN_TYPES: readonly string[] = [TOKEN_TYPE_ACCESS, TOKEN_TYPE_ID];

/** Longest subject token accepted: far above any real JWT, far below what would cost memory. */
const MAX_SUBJECT_TOKEN_BYTES = 16_384;

export interface TokenExchangeParams {
  connector_id?: string | undefined;
  subject_token?: string | undefined;
  subject_token_type?: string | undefined;
  requested_token_type?: string | undefined;
  scope?: string | undefined;
}

export interface Exchanged {
  authorization: Authorization;
  issuedTokenType: IssuedTokenType;
}

/**
 * Checks an exchange request and has the connector verify the subject token. Errors are RFC 8693 §2.2.2's:
 * invalid_request for a missing, malformed or unacceptable subject token (the description says which).
 */
export async function exchangeToken(
  deps: { connectors: ConnectorRegistry; lookupClient: (id: string) => Promise<Client | undefined> },
  client: Client,
  params: TokenExchangeParams,
): Promise<Exchanged> {
  const connectorID = params.connector_id;
  if (!connectorID) throw new OAuthError('invalid_request', 'Missing connector_id.');
  const subjectToken = params.subject_token;
  if (!subjectToken) throw new OAuthError('invalid_request', 'Missing subject_token.');
  if (Buffer.byteLength(subjectToken) > MAX_SUBJECT_TOKEN_BYTES)
    throw new OAuthError('invalid_request', 'subject_token is too long.');
  const subjectTokenType = params.subject_token_type;
  if (!subjectTokenType) throw new OAuthError('invalid_request', 'Missing subject_token_type.');
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType)) {
    throw new OAuthError(
      'invalid_request',
      `Unsupported subject_token_type ${JSON.stringify(subjectTokenType)} (supported: ${SUBJECT_TOKEN_TYPES.join(', ')}).`,
    );
  }
  const requested = params.requested_token_type || TOKEN_TYPE_ACCESS;
  if (!REQUESTED_TOKEN_TYPES.includes(requested)) {
    throw new OAuthError(
      'invalid_request',
      `Unsupported requested_token_type ${JSON.stringify(requested)} (supported: ${REQUESTED_TOKEN_TYPES.join(', ')}).`,
    );
  }
  const scopes = splitScopes(params.scope);
  await validateScopes(scopes, client.id, deps.lookupClient, { requireOpenID: false });

  const opened = await deps.connectors.get(connectorID);
  if (!opened)
    throw new OAuthError('invalid_request', `Unknown connector_id ${JSON.stringify(connectorID)}.`);
  checkConnectorUse(client, opened.entity, TOKEN_EXCHANGE_GRANT);
  if (!canExchangeTokens(opened.connector)) {
    throw new OAuthError(
      'invalid_request',
      `Connector ${JSON.stringify(connectorID)} (type ${opened.entity.type}) cannot exchange tokens.`,
    );
  }

  let identity;
  try {
    identity = await opened.connector.tokenIdentity(connectorScopes(scopes), subjectTokenType, subjectToken);
  } catch (e) {
    if (e instanceof SubjectTokenError)
      throw new OAuthError('invalid_request', `The subject_token was refused: ${e.message}`);
    if (e instanceof ConnectorError) throw new OAuthError('temporarily_unavailable', e.userMessage);
    throw e;
  }
  return {
    authorization: {
      clientID: client.id,
      scopes,
      claims: claimsOf(identity),
      connectorID,
      nonce: '',
    },
    issuedTokenType: requested as IssuedTokenType,
  };
}
