import type { InferenceHealth } from '../inference/shared-inference.js';

/**
 * `GET /` as stock agents-js answers it: `200 OK` when the worker can take jobs from LiveKit,
 * else `503` with the reason as the body. Stock's two reasons keep their exact text, so probes
 * and scripts written for stock workers keep working; openrtc adds two of its own.
 */
export const HEALTH_MESSAGES = {
  ok: 'OK',
  draining: 'draining',
  recycling: 'recycling',
  inferenceDown: 'inference process not running',
  notConnected: 'not connected to livekit',
  loopStalled: 'event loop stalled',
} as const;

export type HealthMessage = (typeof HEALTH_MESSAGES)[keyof typeof HEALTH_MESSAGES];

export interface HealthInputs {
  draining: boolean;
  /** Draining because a recycle condition fired: a fresh process is (or will be) taking over. */
  recycling?: boolean;
  inference: InferenceHealth;
  /** Every agent registration is connected and registered. */
  registered: boolean;
  /** A single event-loop delay past the stall bound happened recently. */
  loopStalled: boolean;
}

export interface HealthResult {
  healthy: boolean;
  message: HealthMessage;
}

/** First reason wins: draining explains everything after it; stock checks inference before the connection. */
export function checkHealth(i: HealthInputs): HealthResult {
  if (i.recycling) return { healthy: false, message: HEALTH_MESSAGES.recycling };
  if (i.draining) return { healthy: false, message: HEALTH_MESSAGES.draining };
  if (i.inference.expected && !i.inference.running)
    return { healthy: false, message: HEALTH_MESSAGES.inferenceDown };
  if (!i.registered) return { healthy: false, message: HEALTH_MESSAGES.notConnected };
  if (i.loopStalled) return { healthy: false, message: HEALTH_MESSAGES.loopStalled };
  return { healthy: true, message: HEALTH_MESSAGES.ok };
}
