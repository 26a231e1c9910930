import {
  JobContext,
  JobProcess,
  runWithJobContextAsync,
  voice,
  type RunningJobInfo,
} from '@livekit/agents';
import { Job, Room as RoomInfo } from '@livekit/protocol';
import { Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import { errorMessage } from '../errors/describe-error.js';

export interface WarmStart {
  /** How long the warm session took to start and answer one turn. */
  durationMs: number;
  /** Resolves once the warm session has closed; the worker awaits it before it stops. */
  closed: Promise<void>;
}

const WARM_INPUT = 'warm start';

/**
 * The first `AgentSession` in a process is slow: V8 compiles agents-js's voice pipeline (agent
 * activity, speech scheduling, generation, chat context, its web streams) on first use, and that
 * first use stalls the event loop that is also answering LiveKit. One throwaway session, started
 * and run through one turn before the worker registers, pays that once, so the first caller does
 * not. It runs room-less in a job context of its own, with the agents-js test LLM: no network,
 * no models, no tenant, and it is not a session of this worker (no slot, no counters, no logs
 * tagged with a tenant). Its close finishes in the background while the worker registers.
 */
export async function warmStart(logger: Logger): Promise<WarmStart> {
  const since = performance.now();
  const job = new Job({
    id: 'openrtc-warm-start',
    agentName: '',
    room: new RoomInfo({ name: 'openrtc-warm-start' }),
  });
  const info: RunningJobInfo = {
    acceptArguments: {
      name: 'openrtc-warm-start',
      identity: 'openrtc-warm-start',
      metadata: '',
      attributes: {},
    },
    job,
    url: '',
    token: '',
    workerId: '',
    fakeJob: true,
  };
  const noInference = {
    doInference: (method: string) =>
      Promise.reject(new Error(`no inference during warm start (${method})`)),
  };
  const ctx = new JobContext(
    new JobProcess(),
    info,
    new Room(),
    () => undefined,
    () => undefined,
    noInference,
  );
  const session = await runWithJobContextAsync(ctx, async () => {
    const s = new voice.AgentSession({
      llm: new voice.testing.FakeLLM([{ input: WARM_INPUT, content: 'ready' }]),
      vad: null,
      turnHandling: { turnDetection: null },
    });
    await s.start({ agent: new voice.Agent({ instructions: 'Warm start.' }) });
    await s.run({ userInput: WARM_INPUT }).wait();
    return s;
  });
  const durationMs = performance.now() - since;
  const closed = runWithJobContextAsync(ctx, () => session.close()).then(
    () => undefined,
    (err: unknown) =>
      logger.debug({ error: errorMessage(err) }, 'warm-start session did not close cleanly'),
  );
  return { durationMs, closed };
}
