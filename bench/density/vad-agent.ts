// The agent every density run hosts, ours and stock alike: a plain agents-js module, no openrtc
// imports. Each session is a real `voice.AgentSession` with the built-in Silero `inference.VAD`,
// the agents-js fake STT and LLM, and a synthetic caller speaking into it in real time.
import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';
import { report, type BenchMetadata } from './session-report.js';
import {
  defineAgent,
  inference,
  stt,
  voice,
  type JobContext,
  type JobProcess,
} from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { SAMPLE_RATE, speechLoop, utterances } from './synthetic-speech.js';

const FRAME_MS = 20;
const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
/** Long enough for any benchmark hold; the fake STT's script must cover the whole call. */
const SCRIPT_MS = 10 * 60 * 1000;
const QUESTION = 'what are your opening hours';

/** A caller's microphone: 20 ms frames of the shared speech loop, each in its own buffer. */
class SyntheticCaller extends voice.AudioInput {
  #timer: NodeJS.Timeout | undefined;

  constructor(loop: Int16Array, offset: number) {
    super();
    let controller!: ReadableStreamDefaultController<AudioFrame>;
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>({ start: (c) => void (controller = c) }),
    );
    let at = offset - (offset % FRAME_SAMPLES);
    this.#timer = setInterval(() => {
      if (at + FRAME_SAMPLES > loop.length) at = 0;
      const samples = loop.slice(at, at + FRAME_SAMPLES);
      at += FRAME_SAMPLES;
      controller.enqueue(new AudioFrame(samples, SAMPLE_RATE, 1, FRAME_SAMPLES));
    }, FRAME_MS);
  }

  hangUp(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

export default defineAgent({
  prewarm: (proc: JobProcess) => {
    // One VAD model per process: this is the part of a session that is shared.
    proc.userData.vad = new inference.VAD();
    proc.userData.speech = speechLoop();
  },
  entry: async (ctx: JobContext) => {
    const dispatchedAt = Date.now();
    const meta = JSON.parse(ctx.job.metadata) as BenchMetadata;
    const loop = ctx.proc.userData.speech as Int16Array;
    const offset = Math.floor(Math.random() * loop.length);
    const caller = new SyntheticCaller(loop, offset);
    let speechTurns = 0;
    let replies = 0;

    const session = new voice.AgentSession({
      vad: ctx.proc.userData.vad as inference.VAD,
      // A streaming STT that hears each phrase the caller says, 300 ms after it ends.
      stt: new stt.testing.FakeSTT({
        fakeUserSpeeches: utterances(offset, loop.length, SCRIPT_MS).map((u) => ({
          startTime: u.startMs,
          endTime: u.endMs,
          transcript: QUESTION,
          sttDelay: 300,
        })),
      }),
      llm: new voice.testing.FakeLLM([{ input: QUESTION, content: 'We are open nine to five.' }]),
      // BENCH_TURN_DETECTOR=1: the local end-of-turn model decides, in the worker's inference process.
      turnHandling: {
        turnDetection:
          process.env.BENCH_TURN_DETECTOR === '1'
            ? new inference.TurnDetector({ version: 'v1-mini' })
            : 'vad',
      },
    });
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState === 'speaking') speechTurns += 1;
    });
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
      if (ev.item.type === 'message' && ev.item.role === 'assistant') replies += 1;
    });
    session.input.audio = caller;
    ctx.addShutdownCallback(async () => {
      caller.hangUp();
      await report(meta.report, {
        job: ctx.job.id,
        event: 'ended',
        at: Date.now(),
        speechTurns,
        replies,
      });
    });
    await session.start({
      agent: new voice.Agent({ instructions: 'You answer questions about opening hours.' }),
    });
    await report(meta.report, {
      job: ctx.job.id,
      event: 'started',
      at: Date.now(),
      entryAt: dispatchedAt,
      pid: process.pid,
    });
  },
});
