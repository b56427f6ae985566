// Storage errors are values with a code, the same whatever the back end, so callers never see
// SQLite or Kubernetes specifics.

export type StorageErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Unavailable';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${code}Error`;
  }
}

export class NotFoundError extends StorageError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('NotFound', `${what} not found`, options);
  }
}

export class AlreadyExistsError extends StorageError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('AlreadyExists', `${what} already exists`, options);
  }
}

export class ConflictError extends StorageError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('Conflict', `${what} was changed concurrently`, options);
  }
}

export class UnavailableError extends StorageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Unavailable', message, options);
  }
}

export const isNotFound = (e: unknown): e is NotFoundError =>
  e instanceof StorageError && e.code === 'NotFound';
export const isAlreadyExists = (e: unknown): e is AlreadyExistsError =>
  e instanceof StorageError && e.code === 'AlreadyExists';
export const isConflict = (e: unknown): e is ConflictError =>
  e instanceof StorageError && e.code === 'Conflict';
