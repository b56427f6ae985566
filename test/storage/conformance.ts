import { describeConcurrency } from './conformance/concurrency.js';
import { useFreshStorage, type StorageFactory } from './conformance/context.js';
import { describeCrud } from './conformance/crud.js';
import { describeGarbageCollection } from './conformance/gc.js';
import { describePaging } from './conformance/paging.js';
import { describeRevocations } from './conformance/revocations.js';
import { describeSessions } from './conformance/sessions.js';
import { describeSpecifics } from './conformance/specifics.js';

// The one storage conformance suite (DESIGN.md, Tests §2): every back end runs exactly this. It only talks
// to the Storage interface, keeps counts moderate so a remote back end (a real kube-apiserver) finishes
// each test in seconds, and gives every test a fresh, empty storage from the factory.

export type { StorageFactory, StorageFactoryOptions, StorageUnderTest } from './conformance/context.js';

export function runStorageConformance(name: string, factory: StorageFactory): void {
  describe(`storage conformance: ${name}`, () => {
    const ctx = useFreshStorage(factory);
    describeCrud(ctx);
    describeSpecifics(ctx);
    describePaging(ctx);
    describeConcurrency(ctx);
    describeGarbageCollection(ctx);
    describeRevocations(ctx);
    describeSessions(ctx);
  });
}
