import type { Storage } from '../storage/storage.js';
import { StorageError } from '../storage/errors.js';
import type { Metrics } from './metrics.js';

const OUTCOMES: Record<string, string> = {
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  Conflict: 'conflict',
  Unavailable: 'unavailable',
};

/**
 * Times every storage call and counts its outcome (conflicts and unavailability included), whatever the
 * back end, by wrapping the Storage interface once.
 */
export function instrumentStorage(inner: Storage, metrics: Metrics): Storage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Not timed, but still called on the back end itself: close() (and anything else a back end calls
      // on `this`) must not see its own helper methods through this proxy, wrapped into promises.
      if (typeof prop !== 'string' || prop === 'close') return (value as () => unknown).bind(target);
      return async (...args: unknown[]) => {
        const stop = metrics.storageOperations.startTimer({ operation: prop });
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          stop({ outcome: 'ok' });
          return result;
        } catch (e) {
          stop({ outcome: e instanceof StorageError ? (OUTCOMES[e.code] ?? 'error') : 'error' });
          throw e;
        }
      };
    },
  });
}
