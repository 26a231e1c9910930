// The agent the real-room density runs host, ours and stock alike: a plain agents-js module, no
// openrtc imports. Each session joins its room and runs a real `voice.AgentSession` on it: the
// caller's Opus audio through rtc-node into the built-in Silero `inference.VAD`, the agents-js
// fake STT (run on each turn the VAD finds) and fake LLM, and replies spoken by a tone TTS, so
// every reply is real audio published back into the room.
import { report, type BenchMetadata } from './session-report.js';
import {
  defineAgent,
  inference,
  stt,
  voice,
  type JobContext,
  type JobProcess,
} from '@livekit/agents';
import { Room } from '@livekit/rtc-node';
import { ToneTTS } from './tone-tts.js';

const QUESTION = 'what are your opening hours';

export default defineAgent({
  prewarm: (proc: JobProcess) => {
    proc.userData.vad = new inference.VAD();
  },
  entry: async (ctx: JobContext) => {
    const meta = JSON.parse(ctx.job.metadata) as BenchMetadata;
    const room = ctx.job.room?.name ?? '';
    let speechTurns = 0;
    let replies = 0;
    const session = new voice.AgentSession({
      vad: ctx.proc.userData.vad as inference.VAD,
      // Not streaming: agents-js runs it on the audio of each turn the VAD detects.
      stt: new stt.testing.FakeSTT({
        fakeTranscript: QUESTION,
        capabilities: { streaming: false },
      }),
      llm: new voice.testing.FakeLLM([{ input: QUESTION, content: 'We are open nine to five.' }]),
      tts: new ToneTTS(440, 1_000),
      turnHandling: { turnDetection: 'vad' },
    });
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState === 'speaking') speechTurns += 1;
    });
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
      if (ev.item.type === 'message' && ev.item.role === 'assistant') replies += 1;
    });
    ctx.addShutdownCallback(async () => {
      await report(meta.report, {
        job: ctx.job.id,
        room,
        event: 'ended',
        at: Date.now(),
        speechTurns,
        replies,
      });
    });
    if (meta.badToken && process.env.LIVEKIT_URL) {
      // rtc-node's failed-connect path (a Room kept after a failed connect() is a known leak).
      await new Room().connect(process.env.LIVEKIT_URL, 'not-a-valid-token').catch(() => undefined);
    }
    await ctx.connect();
    await session.start({
      agent: new voice.Agent({ instructions: 'You answer questions about opening hours.' }),
      room: ctx.room,
    });
    await report(meta.report, {
      job: ctx.job.id,
      room,
      event: 'started',
      at: Date.now(),
      pid: process.pid,
    });
  },
});
