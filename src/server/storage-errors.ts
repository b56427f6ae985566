import { StorageError } from '../storage/errors.js';

/** The storage back end could not be reached: clients should retry (503), not give up. */
export function isStorageUnavailable(e: unknown): boolean {
  return e instanceof StorageError && e.code === 'Unavailable';
}
