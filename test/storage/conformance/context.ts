import { StorageError, type StorageErrorCode } from '../../../src/storage/errors.js';
import type { Storage } from '../../../src/storage/storage.js';

export interface StorageFactoryOptions {
  /**
   * Rows garbage collection deletes per page. The suite makes it small to check that a backlog larger than
   * one page is collected completely; a back end that cannot take it collects with its own page size.
   */
  gcPageSize?: number;
}

export interface StorageUnderTest {
  storage: Storage;
  cleanup(): Promise<void>;
}

/** Returns a fresh, empty storage each time. */
export type StorageFactory = (opts?: StorageFactoryOptions) => Promise<StorageUnderTest>;

export interface SuiteContext {
  /** The fresh storage of the running test. */
  readonly storage: Storage;
  readonly factory: StorageFactory;
}

/** Gives every test its own empty storage, so counts and lists never see another test's entities. */
export function useFreshStorage(factory: StorageFactory): SuiteContext {
  let current: StorageUnderTest | undefined;
  beforeEach(async () => {
    current = await factory();
  });
  afterEach(async () => {
    const done = current;
    current = undefined;
    await done?.cleanup();
  });
  return {
    factory,
    get storage(): Storage {
      if (!current) throw new Error('no storage outside a test');
      return current.storage;
    },
  };
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection, got a value');
    },
    (e: unknown) => e,
  );
}

export async function expectStorageError(
  p: Promise<unknown>,
  ...codes: StorageErrorCode[]
): Promise<StorageError> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(StorageError);
  expect(codes).toContain((err as StorageError).code);
  return err as StorageError;
}

/** Changes every leaf reachable from `v` in place: arrays grow, dates move, bytes and strings change. */
export function scribble(v: unknown): void {
  if (Array.isArray(v)) {
    v.forEach(scribble);
    v.push('scribbled');
  } else if (v instanceof Date) {
    v.setTime(0);
  } else if (v instanceof Uint8Array) {
    v.fill(7);
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (typeof o[k] === 'string') o[k] = 'scribbled';
      else if (typeof o[k] === 'number') o[k] = -1;
      else if (typeof o[k] === 'boolean') o[k] = !o[k];
      else scribble(o[k]);
    }
  }
}
