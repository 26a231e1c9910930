import { z } from 'zod';
import { dispatchJobs } from '../../dispatcher/dispatch-client.js';
import { DEV_CREDENTIALS, DEV_URL } from '../../dispatcher/dev-defaults.js';
import { EXIT } from '../exit-codes.js';
import { UsageError } from '../usage-error.js';

export interface DispatchOptions {
  agent: string;
  tenant?: string;
  count: number;
  metadata?: string;
  duration?: number;
  dialedNumber?: string;
  url?: string;
  json?: boolean;
}

const metadataObject = z.record(z.string(), z.unknown());

export async function dispatchCommand(opts: DispatchOptions): Promise<number> {
  let extra: Record<string, unknown> = {};
  if (opts.metadata !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(opts.metadata);
    } catch {
      throw new UsageError('--metadata must be a JSON object, e.g. \'{"caller":"+15550100"}\'');
    }
    const result = metadataObject.safeParse(parsed);
    if (!result.success || Array.isArray(parsed)) throw new UsageError('--metadata must be a JSON object, not an array or a scalar');
    extra = result.data;
  }
  const metadata: Record<string, unknown> = { ...extra };
  if (opts.duration !== undefined) metadata.duration_s = opts.duration;
  if (opts.dialedNumber !== undefined) metadata.dialed_number = opts.dialedNumber;

  const url = opts.url ?? process.env.LIVEKIT_URL ?? DEV_URL;
  const usingDev = opts.url === undefined && !process.env.LIVEKIT_URL;
  const apiKey = usingDev ? DEV_CREDENTIALS.apiKey : (process.env.LIVEKIT_API_KEY ?? DEV_CREDENTIALS.apiKey);
  const apiSecret = usingDev ? DEV_CREDENTIALS.apiSecret : (process.env.LIVEKIT_API_SECRET ?? DEV_CREDENTIALS.apiSecret);

  let results;
  try {
    results = await dispatchJobs({
      url,
      apiKey,
      apiSecret,
      agentName: opts.agent,
      ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
      metadata,
      count: opts.count,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const hint = usingDev ? ' (is `npx openrtc dev` running?)' : '';
    process.stderr.write(`openrtc dispatch: could not reach ${url}: ${message}${hint}\n`);
    return EXIT.failure;
  }

  if (opts.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    for (const r of results) {
      const detail = r.status === 'accepted' ? `job ${r.jobId ?? '?'}` : [r.reason, r.message].filter(Boolean).join(': ');
      process.stdout.write(`#${r.index + 1} room=${r.room} ${r.status}${detail ? ` ${detail}` : ''}\n`);
    }
    const accepted = results.filter((r) => r.status === 'accepted').length;
    process.stdout.write(`${accepted}/${results.length} accepted\n`);
  }
  // Rejections are answers, not errors: the dispatch itself worked. Scripts read --json.
  return EXIT.ok;
}
