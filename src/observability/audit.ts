import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export type LoginResult = 'success' | 'failure' | 'throttled' | 'error';

/**
 * Audit events: one structured log line (`audit: "<event>"`, who, client, connector, result — never a
 * secret) and the matching business metric, recorded in one call so the two never disagree.
 */
export class Audit {
  constructor(private readonly metrics: Metrics) {}

  login(
    log: Logger,
    e: {
      connector: string;
      client?: string;
      user?: string;
      result: LoginResult;
      via: 'form' | 'callback' | 'password_grant' | 'device' | 'session';
      ip?: string;
    },
  ): void {
    this.metrics.logins.inc({ connector: e.connector, result: e.result });
    const level = e.result === 'success' ? 'info' : 'warn';
    log[level]({ audit: 'login', ...e }, `login ${e.result}`);
  }

  tokensIssued(log: Logger, e: { grant: string; client: string; connector: string; user: string }): void {
    this.metrics.tokensIssued.inc({ grant: e.grant });
    log.info({ audit: 'tokens_issued', ...e }, 'tokens issued');
  }

  refreshRefused(log: Logger, e: { reason: string; client: string; detail?: string }): void {
    this.metrics.refreshFailures.inc({ reason: e.reason });
    log.info({ audit: 'refresh_refused', ...e }, 'refresh refused');
  }
}
