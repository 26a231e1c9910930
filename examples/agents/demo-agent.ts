// A voice agent as an agency would write it: one module, every tenant. It reads its tenant and
// that tenant's providers from openrtc, and runs a real agents-js AgentSession with them.
import { setTimeout as sleep } from 'node:timers/promises';
import { defineAgent, voice, type JobContext } from '@livekit/agents';
import { currentTenant, logger, tenantProviders } from 'openrtc';

/** Used for tenants whose config leaves the LLM slot empty. */
const defaultLLM = new voice.testing.FakeLLM([
  { input: 'hello', content: 'Hello! How can I help you today?' },
]);

interface DemoMetadata {
  /** How long the call stays up, in seconds. */
  duration_s?: unknown;
  /** Makes this one session fail, as a provider outage would. */
  simulate_failure?: unknown;
}

function demoMetadata(ctx: JobContext): DemoMetadata {
  try {
    const meta: unknown = JSON.parse(ctx.job.metadata || '{}');
    return typeof meta === 'object' && meta !== null ? (meta as DemoMetadata) : {};
  } catch {
    return {};
  }
}

export default defineAgent({
  entry: async (ctx: JobContext) => {
    const tenant = currentTenant();
    const log = logger();
    const meta = demoMetadata(ctx);
    const failure = meta.simulate_failure ?? tenant.config?.settings?.simulateFailure;
    if (typeof failure === 'string' && failure) throw new Error(failure);

    // Joins the room when a LiveKit server dispatched the job (the agent shows up as a participant
    // with its tenant attribute); a no-op for the local dispatcher's jobs, which have no room.
    await ctx.connect();
    const providers = tenantProviders({ llm: defaultLLM });
    const session = new voice.AgentSession({
      llm: providers.llm as voice.AgentSessionOptions['llm'],
    });
    await session.start({
      agent: new voice.Agent({
        instructions: providers.instructions ?? 'You are a helpful voice assistant.',
      }),
    });
    if (providers.greeting) log.info({ greeting: providers.greeting }, 'greeting');

    const result = await session.run({ userInput: 'hello' }).wait();
    const reply = result.events.find((e) => e.type === 'message');
    log.info(
      { reply: reply?.type === 'message' ? reply.item.textContent : undefined },
      'agent replied',
    );

    // Stand-in for a call: stay up for the requested duration, then hang up. A drain or a
    // termination closes the session first; the call then ends at once, leaving no timer behind.
    const duration =
      typeof meta.duration_s === 'number' && meta.duration_s >= 0
        ? Math.min(meta.duration_s, 3600)
        : 2;
    const hangUp = new AbortController();
    session.once(voice.AgentSessionEventTypes.Close, () => hangUp.abort());
    await sleep(duration * 1000, undefined, { signal: hangUp.signal }).catch(() => undefined);
    await session.close();
    ctx.shutdown('call ended');
  },
});
