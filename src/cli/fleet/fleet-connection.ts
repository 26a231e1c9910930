import os from 'node:os';
import { errorMessage } from '../../errors/describe-error.js';
import { EXIT } from '../../protocol/exit-codes.js';
import type { AuditActor } from '../../store/fleet-store.js';
import { DEFAULT_KEY_PREFIX, REDIS_URL_ENV } from '../../store/redis-keys.js';
import { RedisStore, safeUrl, urlPassword } from '../../store/redis-store.js';
import { knownSecrets } from '../../secrets/known-secrets.js';
import { CommandFailure } from '../worker-connection.js';

/** The flags every `--fleet` command takes. */
export interface FleetOpts {
  redis?: string | undefined;
  keyPrefix?: string | undefined;
}

/** An open fleet store, with what the views say about it. */
export interface FleetConnection {
  store: RedisStore;
  /** Without credentials. */
  url: string;
  keyPrefix: string;
}

/**
 * A person waits on the CLI, not a call: Redis gets longer than a worker's availability answer
 * would give it, and the command still fails within seconds when Redis is gone.
 */
const CLI_STORE_TIMEOUT_MS = 2_000;

/** Opens the fleet's Redis from `--redis` (else `OPENRTC_REDIS_URL`); a clear failure, never the password. */
export async function openFleetConnection(opts: FleetOpts): Promise<FleetConnection> {
  const url = opts.redis ?? process.env[REDIS_URL_ENV];
  if (!url)
    throw new CommandFailure(
      `--fleet reads the fleet from Redis: give --redis URL or set ${REDIS_URL_ENV}`,
      EXIT.usage,
    );
  if (!/^rediss?:\/\//.test(url))
    throw new CommandFailure(
      `--redis: expected a redis:// or rediss:// URL, got ${JSON.stringify(safeUrl(url))}`,
      EXIT.usage,
    );
  const keyPrefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
  // No message this command prints may echo the password, whatever the client's errors say.
  const password = urlPassword(url);
  if (password) knownSecrets.addSecret(password);
  try {
    const store = await RedisStore.connect({
      url,
      keyPrefix,
      timeoutMs: CLI_STORE_TIMEOUT_MS,
      connectTimeoutMs: CLI_STORE_TIMEOUT_MS,
    });
    return { store, url: safeUrl(url), keyPrefix };
  } catch (err) {
    // RedisStore's message names the host and never the password.
    throw new CommandFailure(`cannot reach the fleet store: ${errorMessage(err)}`, EXIT.failure);
  }
}

/** Opens the fleet store for one command and closes it afterwards, whatever happens. */
export async function withFleetConnection<T>(
  opts: FleetOpts,
  act: (fleet: FleetConnection) => Promise<T>,
): Promise<T> {
  const fleet = await openFleetConnection(opts);
  try {
    return await act(fleet);
  } catch (err) {
    if (err instanceof CommandFailure) throw err;
    throw new CommandFailure(`the fleet store did not answer: ${errorMessage(err)}`, EXIT.failure);
  } finally {
    await fleet.store.close();
  }
}

/** Who acts when the CLI writes to the store directly: the OS user, from this host and process. */
export function cliActor(): AuditActor {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // A container may run as a uid with no passwd entry.
    user = 'unknown user';
  }
  const uid = process.getuid?.();
  return {
    worker: `cli@${os.hostname()} pid ${process.pid}`,
    operator: uid === undefined ? user : `${user} (uid ${uid})`,
    source: 'cli',
  };
}
