import { afterAll, beforeAll, describe } from 'vitest';
import { randomUUID } from 'node:crypto';
import { RedisStore } from '../../src/store/redis-store.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';
import { storeContract } from './store-contract.js';

const available = redisAvailable();

describe.skipIf(!available)('redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  // Each test gets its own key prefix on the one server: a fresh, shared state.
  storeContract('redis', async () => {
    const keyPrefix = `t-${randomUUID()}:`;
    const opened: RedisStore[] = [];
    const open = async () => {
      const s = await RedisStore.connect({ url: server.url, keyPrefix, timeoutMs: 1_000 });
      opened.push(s);
      return s;
    };
    return {
      store: await open(),
      connectAgain: open,
      close: async () => {
        await Promise.all(opened.map((s) => s.close()));
      },
    };
  });
});
