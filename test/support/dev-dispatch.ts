import { dispatchJobs, type DispatchResult } from '../../src/dispatcher/dispatch-client.js';

/** `count` demo-agent calls of `durationS` seconds for `tenant`, through a local dispatcher. */
export function dispatchDemoCalls(
  port: number,
  count: number,
  durationS: number,
  tenant = 'acme',
): Promise<DispatchResult[]> {
  return dispatchJobs({
    url: `http://127.0.0.1:${port}`,
    apiKey: 'devkey',
    apiSecret: 'secret',
    agentName: 'demo',
    tenant,
    metadata: { duration_s: durationS },
    count,
  });
}
