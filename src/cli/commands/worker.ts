import { ConfigError } from '../../config/config-error.js';
import { createLogger, type LogFormat } from '../../logging/logger.js';
import { EXIT_GRACE_MS, exitAfterStop } from '../../runtime/exit-after-stop.js';
import { WorkerRuntime } from '../../runtime/worker-runtime.js';
import { SupervisorLink } from '../../supervisor/supervisor-link.js';
import { colorEnabled } from '../color.js';
import { EXIT } from '../../protocol/exit-codes.js';
import { errorMessage } from '../../errors/describe-error.js';

/** Where a supervisor's local dispatcher listens, for `openrtc dispatch` to find through a worker. */
export const LOCAL_DISPATCHER_ENV = 'OPENRTC_LOCAL_DISPATCHER_URL';

/**
 * A supervisor started with `--redis URL` hands the URL to its workers here rather than on their
 * command lines, where `ps` would show a password in it.
 */
export const RUN_REDIS_ENV = 'OPENRTC_RUN_REDIS_URL';

export interface WorkerCommandOptions {
  config?: string;
  logFormat: LogFormat;
  logLevel: string;
  frameworkLogLevel?: string;
  dev: boolean;
  port?: number;
  /** `--redis URL`: the Redis store for this run, whatever `tenants.store` says. */
  redis?: string;
}

/**
 * `openrtc start` and `openrtc dev`. SIGTERM/SIGINT drain (a second signal exits at once);
 * SIGHUP reloads the config file. Resolves with the exit code once the worker has stopped: 0
 * when every session ended by itself, 1 when the drain deadline closed some. The process then
 * ends within `EXIT_GRACE_MS`, whatever agent code left open.
 */
export async function runWorkerCommand(opts: WorkerCommandOptions): Promise<number> {
  const logger = createLogger({
    format: opts.logFormat,
    level: opts.logLevel,
    color: colorEnabled(process.stdout),
  });
  const supervisor = SupervisorLink.fromProcess();
  const redis = opts.redis ?? process.env[RUN_REDIS_ENV];
  let runtime: WorkerRuntime;
  try {
    runtime = await WorkerRuntime.start({
      logger,
      ...(supervisor ? { supervisor } : {}),
      ...(process.env[LOCAL_DISPATCHER_ENV]
        ? { localDispatcherUrl: process.env[LOCAL_DISPATCHER_ENV] }
        : {}),
      dev: opts.dev,
      logFormat: opts.logFormat,
      ...(opts.frameworkLogLevel !== undefined
        ? { frameworkLogLevel: opts.frameworkLogLevel }
        : {}),
      ...(opts.config !== undefined ? { configFile: opts.config } : {}),
      ...(opts.port !== undefined ? { devPort: opts.port } : {}),
      ...(redis !== undefined ? { redisUrl: redis } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    logger.fatal({ err }, 'worker failed to start');
    process.stderr.write(`openrtc: worker failed to start: ${errorMessage(err)}\n`);
    supervisor?.close();
    return EXIT.failure;
  }

  let signals = 0;
  const onStopSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.failure);
    }
    logger.info({ signal }, 'signal received: draining (send it again to exit at once)');
    void runtime.stop();
  };
  // The runtime logs a refused reload itself.
  const onHangup = () => void runtime.reloadConfig().catch(() => undefined);
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGHUP', onHangup);
  // A supervisor that was killed can no longer stop its workers: each drains on its own.
  supervisor?.onLost(() => {
    logger.warn('the supervisor went away: draining');
    void runtime.stop();
  });
  const outcome = await runtime.stopped;
  supervisor?.close();
  process.off('SIGTERM', onStopSignal);
  process.off('SIGINT', onStopSignal);
  process.off('SIGHUP', onHangup);
  const code = outcome.recycled ? EXIT.recycle : outcome.clean ? EXIT.ok : EXIT.failure;
  exitAfterStop({ code, logger, graceMs: EXIT_GRACE_MS });
  logger.flush();
  return code;
}
