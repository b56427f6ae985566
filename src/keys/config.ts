// From the validated Config to KeyManager options, so the server wires both key sets the same way.

import type { Config } from '../config/types.js';
import type { KeyManagerOptions } from './manager.js';

/** Dex's default rotation period (expiry.signingKeys). */
export const DEFAULT_ROTATION_PERIOD_MS = 6 * 60 * 60 * 1000;

type KeyConfig = {
  signer?: Partial<Config['signer']>;
  expiry: Pick<Config['expiry'], 'signingKeys' | 'idTokens' | 'authRequests'>;
};

/** signer.config.keysRotationPeriod, falling back to expiry.signingKeys, then 6h. */
export function rotationPeriodMs(cfg: KeyConfig): number {
  const candidates = [cfg.signer?.keysRotationPeriod, cfg.expiry.signingKeys];
  return candidates.find((v): v is number => typeof v === 'number' && v > 0) ?? DEFAULT_ROTATION_PERIOD_MS;
}

/** Signing keys: retired keys stay published for the longest an ID/access token lives (expiry.idTokens). */
export function signingKeyOptions(
  cfg: KeyConfig,
): Pick<KeyManagerOptions, 'name' | 'kind' | 'algorithm' | 'rotationPeriodMs' | 'retentionMs'> {
  return {
    name: 'signing',
    kind: 'signing',
    algorithm: cfg.signer?.algorithm ?? 'RS256',
    rotationPeriodMs: rotationPeriodMs(cfg),
    retentionMs: cfg.expiry.idTokens,
  };
}

/** Sealing keys: same period; a retired key unseals for as long as a pending request lives (expiry.authRequests). */
export function sealingKeyOptions(
  cfg: KeyConfig,
  periodMs?: number,
): Pick<KeyManagerOptions, 'name' | 'kind' | 'rotationPeriodMs' | 'retentionMs'> {
  return {
    name: 'sealing',
    kind: 'sealing',
    rotationPeriodMs: periodMs ?? rotationPeriodMs(cfg),
    retentionMs: cfg.expiry.authRequests,
  };
}
