// A caller process: joins rooms on a real LiveKit server with its own rtc-node (never the
// worker's), publishes a microphone track of synthetic speech into each, and listens to what the
// agents publish back. The parent drives it over the IPC channel: `report` answers with what
// each caller heard, `hangup` leaves every room and exits.
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  type RemoteParticipant,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
} from '@livekit/rtc-node';
import { PHRASE_S, SAMPLE_RATE, speechLoop } from '../../../bench/density/synthetic-speech.js';
import { dominantFrequency, rms, SILENCE_RMS, toneShare } from './audio-analysis.js';
import type {
  CallerProcessSpec,
  CallerReport,
  CallerSpec,
  ParentMessage,
} from './caller-protocol.js';

/**
 * A caller hands rtc-node 100 ms of audio at a time and reads it back in 100 ms frames: the
 * same media on the wire (rtc-node still sends 20 ms Opus packets), at a fifth of the calls
 * into the native side, so that twenty callers fit beside the worker on a small machine.
 */
const FRAME_MS = 100;
const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
/** Enough of the agent's voice to measure its frequency to about 1 Hz. */
const KEEP_SAMPLES = 3 * SAMPLE_RATE;

const spec = JSON.parse(process.env.OPENRTC_CALLER_SPEC ?? '{}') as CallerProcessSpec;

function send(message: unknown): void {
  process.send?.(message);
}

/** The shared speech loop, with this caller's marker tone under its voiced part. */
function voiceOf(markerHz: number | undefined, base: Int16Array): Int16Array {
  if (markerHz === undefined) return base;
  const out = new Int16Array(base.length);
  const phrase = Math.round(PHRASE_S * SAMPLE_RATE);
  for (let i = 0; i < base.length; i++) {
    const marker = i < phrase ? 1_500 * Math.sin((2 * Math.PI * markerHz * i) / SAMPLE_RATE) : 0;
    out[i] = Math.max(-32_768, Math.min(32_767, Math.round(base[i]! + marker)));
  }
  return out;
}

class Caller {
  readonly room = new Room();
  readonly report: CallerReport;
  readonly #spec: CallerSpec;
  readonly #voice: Int16Array;
  /** The last KEEP_SAMPLES loud samples heard, as a ring. */
  readonly #heard = new Int16Array(KEEP_SAMPLES);
  #heardCount = 0;
  #loudFrames = 0;
  /** Per voice: the sum over loud frames of the frame's share at that voice. */
  readonly #shareSums = new Map<number, number>();
  #source: AudioSource | undefined;
  #micSid: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #readers: Promise<void>[] = [];

  constructor(callerSpec: CallerSpec, base: Int16Array) {
    this.#spec = callerSpec;
    this.#voice = voiceOf(callerSpec.markerHz, base);
    this.report = {
      room: callerSpec.room,
      identity: callerSpec.identity,
      connected: false,
      agents: [],
      framesReceived: 0,
      nonSilentFrames: 0,
      speaking: false,
    };
  }

  async join(): Promise<void> {
    this.room.on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) =>
      this.#noteParticipant(p),
    );
    this.room.on(
      RoomEvent.TrackSubscribed,
      (track: RemoteTrack, _pub, participant: RemoteParticipant) => {
        this.#noteParticipant(participant);
        if (track.kind === TrackKind.KIND_AUDIO) this.#readers.push(this.#listen(track));
      },
    );
    await this.room.connect(spec.url, this.#spec.token, { autoSubscribe: true, dynacast: false });
    this.report.connected = true;
    for (const p of this.room.remoteParticipants.values()) this.#noteParticipant(p);
    if (this.#spec.speak !== false) await this.speak();
  }

  #noteParticipant(p: RemoteParticipant): void {
    const known = this.report.agents.find((a) => a.identity === p.identity);
    if (known) known.attributes = { ...p.attributes };
    else this.report.agents.push({ identity: p.identity, attributes: { ...p.attributes } });
  }

  /** Publishes the microphone and starts talking (once). */
  async speak(): Promise<void> {
    if (this.#source) return;
    const source = new AudioSource(SAMPLE_RATE, 1);
    this.#source = source;
    const track = LocalAudioTrack.createAudioTrack('microphone', source);
    const publication = await this.room.localParticipant!.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    this.#micSid = publication.sid;
    this.report.speaking = true;
    // Start somewhere in the loop, so the callers of one process do not speak in unison.
    let at = Math.floor(Math.random() * (this.#voice.length / FRAME_SAMPLES)) * FRAME_SAMPLES;
    const started = Date.now();
    let sent = 0;
    const tick = () => {
      // Catch up on wall-clock time, so a busy machine slows nothing down.
      const due = Math.floor((Date.now() - started) / FRAME_MS) + 1;
      for (; sent < due; sent++) {
        if (at + FRAME_SAMPLES > this.#voice.length) at = 0;
        const samples = this.#voice.slice(at, at + FRAME_SAMPLES);
        at += FRAME_SAMPLES;
        source
          .captureFrame(new AudioFrame(samples, SAMPLE_RATE, 1, FRAME_SAMPLES))
          .catch(() => undefined);
      }
    };
    this.#timer = setInterval(tick, FRAME_MS);
  }

  async #listen(track: RemoteTrack): Promise<void> {
    const stream = new AudioStream(track, {
      sampleRate: SAMPLE_RATE,
      numChannels: 1,
      frameSizeMs: FRAME_MS,
    });
    for await (const frame of stream) {
      // Counted in 20 ms units whatever the frame size, so the figures read as packets.
      const units = Math.round((frame.samplesPerChannel / SAMPLE_RATE) * 50);
      this.report.framesReceived += units;
      if (rms(frame.data) < SILENCE_RMS) continue;
      this.report.nonSilentFrames += units;
      for (const sample of frame.data) this.#heard[this.#heardCount++ % KEEP_SAMPLES] = sample;
      this.#loudFrames += 1;
      for (const hz of spec.voicesHz ?? [])
        this.#shareSums.set(
          hz,
          (this.#shareSums.get(hz) ?? 0) + toneShare(frame.data, SAMPLE_RATE, hz),
        );
      // Half a second of the answer is an answer.
      if (this.#spec.untilAnswered && this.report.speaking && this.report.nonSilentFrames >= 25)
        void this.#stopSpeaking();
    }
  }

  async #stopSpeaking(): Promise<void> {
    this.report.speaking = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#micSid)
      await this.room.localParticipant?.unpublishTrack(this.#micSid).catch(() => undefined);
  }

  /** The ring in time order. */
  #heardSamples(): Int16Array {
    if (this.#heardCount <= KEEP_SAMPLES) return this.#heard.subarray(0, this.#heardCount);
    const at = this.#heardCount % KEEP_SAMPLES;
    const out = new Int16Array(KEEP_SAMPLES);
    out.set(this.#heard.subarray(at));
    out.set(this.#heard.subarray(0, at), KEEP_SAMPLES - at);
    return out;
  }

  snapshot(): CallerReport {
    const heard = this.#heardSamples();
    if (heard.length < SAMPLE_RATE / 4)
      return { ...this.report, agents: this.report.agents.map((a) => ({ ...a })) };
    const [from, to] = spec.voiceBandHz ?? [200, 1_400];
    const shares: Record<string, number> = {};
    for (const hz of spec.voicesHz ?? [])
      shares[String(hz)] = (this.#shareSums.get(hz) ?? 0) / Math.max(1, this.#loudFrames);
    return {
      ...this.report,
      agents: this.report.agents.map((a) => ({ ...a })),
      dominantHz: dominantFrequency(heard, SAMPLE_RATE, from, to),
      voiceShares: shares,
    };
  }

  async hangUp(): Promise<void> {
    clearInterval(this.#timer);
    await this.#source?.close().catch(() => undefined);
    await this.room.disconnect().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const loops = new Map<number | undefined, Int16Array>();
  const loopFor = (pauseMs: number | undefined) => {
    let loop = loops.get(pauseMs);
    if (!loop)
      loops.set(
        pauseMs,
        (loop = pauseMs === undefined ? speechLoop() : speechLoop(7, pauseMs / 1000)),
      );
    return loop;
  };
  const callers = spec.callers.map((c) => new Caller(c, loopFor(c.pauseMs)));
  process.on('message', (raw: unknown) => {
    const msg = raw as ParentMessage;
    if (msg.type === 'report')
      send({ type: 'report', id: msg.id, callers: callers.map((c) => c.snapshot()) });
    if (msg.type === 'speak')
      for (const c of callers) if (msg.rooms.includes(c.report.room)) void c.speak();
    if (msg.type === 'hangup') {
      void (async () => {
        await Promise.all(callers.map((c) => c.hangUp()));
        send({ type: 'bye' });
        await dispose().catch(() => undefined);
        process.exit(0);
      })();
    }
  });
  // The parent going away is a hang-up too: never leave a caller in a room.
  process.on('disconnect', () => process.exit(0));
  try {
    await Promise.all(callers.map((c) => c.join()));
    send({ type: 'ready' });
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
}

void main();
