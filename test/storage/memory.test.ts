import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { runStorageConformance } from './conformance.js';

runStorageConformance('memory', async (opts) => {
  const storage = new MemoryStorage(opts);
  return { storage, cleanup: () => storage.close() };
});
