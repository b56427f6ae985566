import type { Password } from '../../src/storage/storage.js';
import type { ConnectorLogger } from '../../src/connectors/registry.js';

export const scopes = { offlineAccess: false, groups: true };
export const offline = { offlineAccess: true, groups: true };

export const jane = (hash: string, extra: Partial<Password> = {}): Password => ({
  email: 'jane@example.com',
  hash,
  username: 'jane',
  name: 'Jane Doe',
  preferredUsername: 'janed',
  emailVerified: true,
  userID: 'user-jane',
  groups: ['admins', 'dev'],
  ...extra,
});

export interface LogRecord {
  level: 'warn' | 'info' | 'debug' | 'error';
  obj: object;
  msg: string | undefined;
}

/** Keeps what was logged, for assertions. */
export class RecordingLogger implements ConnectorLogger {
  readonly records: LogRecord[] = [];
  warn(obj: object, msg?: string): void {
    this.records.push({ level: 'warn', obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.records.push({ level: 'info', obj, msg });
  }
  debug(obj: object, msg?: string): void {
    this.records.push({ level: 'debug', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.records.push({ level: 'error', obj, msg });
  }
  at(level: LogRecord['level']): LogRecord[] {
    return this.records.filter((r) => r.level === level);
  }
}

export const decode = (data: Uint8Array | undefined): unknown =>
  data === undefined ? undefined : JSON.parse(new TextDecoder().decode(data));
