import { z } from 'zod';
import type { WorkerInfo } from '../../control/control-methods.js';
import { dispatchJobs } from '../../dispatcher/dispatch-client.js';
import { DEV_CREDENTIALS, DEV_URL } from '../../dispatcher/dev-defaults.js';
import { listWorkers } from '../../ipc/socket-path.js';
import { EXIT } from '../../protocol/exit-codes.js';
import { UsageError } from '../usage-error.js';
import { callWorker, CommandFailure } from '../worker-connection.js';
import { errorMessage } from '../../errors/describe-error.js';

export interface DispatchOptions {
  agent: string;
  tenant?: string;
  count: number;
  metadata?: string;
  duration?: number;
  dialedNumber?: string;
  url?: string;
  socket?: string;
  /** Seconds to wait for each job's state. */
  wait?: number;
  json?: boolean;
}

const metadataObject = z.record(z.string(), z.unknown());

interface Target {
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Where the URL came from, for the hint when it cannot be reached. */
  from: 'flag' | 'env' | 'dev worker' | 'default';
}

async function localDispatcherOf(socketPath: string): Promise<WorkerInfo | undefined> {
  try {
    return await callWorker(socketPath, 'worker.info');
  } catch {
    // An older worker, or one busy enough to miss the connect: it just is not a candidate.
    return undefined;
  }
}

/**
 * `--url`, else `LIVEKIT_URL`, else the local dispatcher of the running `openrtc dev` worker (so
 * `dev --port N` needs no `--url` on every dispatch), else LiveKit's dev port.
 */
async function dispatchTarget(opts: DispatchOptions): Promise<Target> {
  const env = process.env;
  if (opts.url !== undefined || env.LIVEKIT_URL) {
    return {
      url: opts.url ?? env.LIVEKIT_URL!,
      apiKey: env.LIVEKIT_API_KEY ?? DEV_CREDENTIALS.apiKey,
      apiSecret: env.LIVEKIT_API_SECRET ?? DEV_CREDENTIALS.apiSecret,
      from: opts.url !== undefined ? 'flag' : 'env',
    };
  }
  const sockets =
    opts.socket !== undefined ? [opts.socket] : (await listWorkers()).map((w) => w.socketPath);
  const infos = (await Promise.all(sockets.map(localDispatcherOf))).filter(
    (i): i is WorkerInfo => i?.localDispatcherUrl != null,
  );
  // A local fleet (`dev --workers N`): every worker registers with the supervisor's one dispatcher.
  const urls = new Set(infos.map((i) => i.localDispatcherUrl));
  if (urls.size > 1) {
    const list = infos
      .map((i) => `  ${i.name} (pid ${i.pid}): --url ${i.localDispatcherUrl}`)
      .join('\n');
    throw new CommandFailure(
      `several dev workers serve a local dispatcher; pick one with --url or --socket:\n${list}`,
      EXIT.usage,
    );
  }
  if (infos.length > 0)
    return { url: infos[0]!.localDispatcherUrl!, ...DEV_CREDENTIALS, from: 'dev worker' };
  if (opts.socket !== undefined) {
    throw new CommandFailure(
      `the worker at ${opts.socket} serves no local dispatcher (it runs against LiveKit): set LIVEKIT_URL or --url`,
    );
  }
  return { url: DEV_URL, ...DEV_CREDENTIALS, from: 'default' };
}

function parseMetadata(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UsageError('--metadata must be a JSON object, e.g. \'{"caller":"+15550100"}\'');
  }
  const result = metadataObject.safeParse(parsed);
  if (!result.success || Array.isArray(parsed))
    throw new UsageError('--metadata must be a JSON object, not an array or a scalar');
  return result.data;
}

/** Exit 0 only when every job was accepted: a script that dispatches must see a rejection. */
export async function dispatchCommand(opts: DispatchOptions): Promise<number> {
  const metadata: Record<string, unknown> = { ...parseMetadata(opts.metadata) };
  if (opts.duration !== undefined) metadata.duration_s = opts.duration;
  if (opts.dialedNumber !== undefined) metadata.dialed_number = opts.dialedNumber;

  let target: Target;
  try {
    target = await dispatchTarget(opts);
  } catch (err) {
    if (!(err instanceof CommandFailure)) throw err;
    process.stderr.write(`openrtc: ${err.message}\n`);
    return err.exitCode;
  }

  let results;
  try {
    results = await dispatchJobs({
      url: target.url,
      apiKey: target.apiKey,
      apiSecret: target.apiSecret,
      agentName: opts.agent,
      ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
      metadata,
      count: opts.count,
      ...(opts.wait !== undefined ? { waitMs: opts.wait * 1000 } : {}),
    });
  } catch (err) {
    const message = errorMessage(err);
    const hint = target.from === 'default' ? ' (is `npx openrtc dev` running?)' : '';
    process.stderr.write(`openrtc dispatch: could not reach ${target.url}: ${message}${hint}\n`);
    return EXIT.failure;
  }

  const accepted = results.filter((r) => r.status === 'accepted').length;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    for (const r of results) {
      const detail =
        r.status === 'accepted'
          ? `job ${r.jobId ?? '?'}`
          : [r.reason, r.message].filter(Boolean).join(': ');
      process.stdout.write(
        `#${r.index + 1} room=${r.room} ${r.status}${detail ? ` ${detail}` : ''}\n`,
      );
    }
    process.stdout.write(`${accepted}/${results.length} accepted\n`);
  }
  return accepted === results.length ? EXIT.ok : EXIT.failure;
}
