import { systemClock } from '../../src/clock/clock.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { storeContract } from './store-contract.js';

storeContract('memory', async () => {
  const store = new MemoryStore(systemClock);
  return { store, connectAgain: async () => store, close: () => store.close() };
});
