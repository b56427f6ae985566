import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  StorageError,
  UnavailableError,
  type StorageErrorCode,
} from '../storage/errors.js';

// How an error thrown by an RPC handler crosses the channel: as a value (name, message, and the storage
// code when it has one), never as a live object and never with its stack. A stack names the other process's
// files and frames: logged on this side it would pass for a local failure, and the message is what callers
// and logs need. Storage errors come back as the same classes, so `isNotFound` and friends work in the caller.

export interface WireError {
  name: string;
  message: string;
  /** Present for storage errors only: what the caller rebuilds them from. */
  code?: StorageErrorCode;
}

const STORAGE_ERROR_CLASSES: Record<StorageErrorCode, new (text: string) => StorageError> = {
  NotFound: NotFoundError,
  AlreadyExists: AlreadyExistsError,
  Conflict: ConflictError,
  Unavailable: UnavailableError,
};

export function encodeError(e: unknown): WireError {
  if (e instanceof StorageError) return { name: e.name, message: e.message, code: e.code };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

export function decodeError(w: WireError): Error {
  const e =
    w.code !== undefined && Object.hasOwn(STORAGE_ERROR_CLASSES, w.code) ? storageError(w) : new Error();
  // Set after construction: the storage classes decorate their argument ("… not found"), and the message
  // sent is already the decorated one.
  e.message = w.message;
  // Keeps subclasses the codes do not distinguish recognisable (ReadOnlyError is a Conflict).
  e.name = w.name;
  return e;
}

function storageError(w: WireError): StorageError {
  return new STORAGE_ERROR_CLASSES[w.code!]('');
}
