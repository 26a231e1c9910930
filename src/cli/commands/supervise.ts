import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/load-config.js';
import type { OpenrtcConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors/describe-error.js';
import { REDIS_URL_ENV } from '../../store/redis-keys.js';
import { RedisStore } from '../../store/redis-store.js';
import { useRedisStore } from '../../config/store-override.js';
import { DEV_CREDENTIALS, DEV_PORT } from '../../dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../../dispatcher/local-dispatcher.js';
import { createLogger } from '../../logging/logger.js';
import { knownSecrets } from '../../secrets/known-secrets.js';
import { SUPERVISED_ENV } from '../../supervisor/protocol.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import {
  resolveWorkerCount,
  workerCountRefusal,
  type WorkerCount,
} from '../../supervisor/worker-count.js';
import { colorEnabled } from '../color.js';
import { EXIT } from '../../protocol/exit-codes.js';
import { LOCAL_DISPATCHER_ENV, RUN_REDIS_ENV, type WorkerCommandOptions } from './worker.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/openrtc.js');

/**
 * `openrtc start --workers N` (and `dev --workers N`): forks N workers and keeps them serving.
 * With `dev` and no LiveKit URL, the supervisor serves the one local dispatcher they all register
 * with. Resolves with the exit code once every worker has stopped.
 */
export async function runSupervisorCommand(
  opts: WorkerCommandOptions & { workers: WorkerCount },
): Promise<number> {
  const count = resolveWorkerCount(opts.workers);
  knownSecrets.collectEnv(process.env);
  const { config, file } = await loadConfig(opts.config);
  if (opts.redis !== undefined) useRedisStore(config, opts.redis);
  const refusal = workerCountRefusal(count, config);
  if (refusal) {
    process.stderr.write(`openrtc: ${refusal}\n`);
    return EXIT.usage;
  }
  // Every worker would fail to start and be restarted forever: say it once, and stop.
  const unreachable = await storeUnreachable(config);
  if (unreachable) {
    process.stderr.write(`openrtc: workers cannot start: ${unreachable}\n`);
    return EXIT.failure;
  }
  const baseLogger = createLogger({
    format: opts.logFormat,
    level: opts.logLevel,
    color: colorEnabled(process.stdout),
  });
  const logger = baseLogger.child({ component: 'supervisor' });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [SUPERVISED_ENV]: '1',
    ...(opts.redis !== undefined ? { [RUN_REDIS_ENV]: opts.redis } : {}),
  };
  let dispatcher: LocalDispatcher | undefined;
  if (opts.dev && !config.livekit.url) {
    dispatcher = await LocalDispatcher.start({
      port: opts.port ?? DEV_PORT,
      ...DEV_CREDENTIALS,
      logger: baseLogger,
    });
    Object.assign(env, {
      LIVEKIT_URL: dispatcher.url,
      LIVEKIT_API_KEY: DEV_CREDENTIALS.apiKey,
      LIVEKIT_API_SECRET: DEV_CREDENTIALS.apiSecret,
      [LOCAL_DISPATCHER_ENV]: dispatcher.url,
    });
    logger.info(
      { url: dispatcher.url },
      'no LIVEKIT_URL: serving a local dispatcher for the workers',
    );
  }
  const args = [
    opts.dev ? 'dev' : 'start',
    '--config',
    file,
    '--log-format',
    opts.logFormat,
    '--log-level',
    opts.logLevel,
    ...(opts.frameworkLogLevel !== undefined
      ? ['--framework-log-level', opts.frameworkLogLevel]
      : []),
  ];
  const supervisor = new Supervisor({
    count,
    logger,
    // Own process group: a terminal's Ctrl-C reaches the supervisor alone, which passes it on
    // once, so no worker sees two signals (which would make it exit without draining).
    fork: (slot) =>
      fork(BIN, args, {
        env: { ...env, OPENRTC_WORKER_SLOT: String(slot) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        detached: true,
      }),
  });
  const onStop = (signal: NodeJS.Signals) =>
    supervisor.signal(signal === 'SIGINT' ? 'SIGTERM' : signal);
  const onHangup = () => supervisor.signal('SIGHUP');
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHangup);
  logger.info({ workers: count, pid: process.pid }, `supervising ${count} worker(s)`);
  supervisor.start();
  const code = await supervisor.done;
  process.off('SIGTERM', onStop);
  process.off('SIGINT', onStop);
  process.off('SIGHUP', onHangup);
  await dispatcher?.close();
  logger.info({ exit_code: code }, 'every worker stopped');
  return code;
}

/** Why the Redis store the workers need at start does not answer, or undefined when it does. */
async function storeUnreachable(config: OpenrtcConfig): Promise<string | undefined> {
  const store = config.tenants.store;
  if (store === 'memory' || store.onUnavailableAtStart === 'degraded') return undefined;
  const url = store.redis.url ?? process.env[REDIS_URL_ENV];
  if (!url) return `tenants.store.redis.url is not set and neither is ${REDIS_URL_ENV}`;
  try {
    const probe = await RedisStore.connect({ url, keyPrefix: store.redis.keyPrefix });
    await probe.close();
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
