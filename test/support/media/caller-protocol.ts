/** One caller: one participant in one room. */
export interface CallerSpec {
  room: string;
  identity: string;
  /** A room-join token for `identity` in `room`. */
  token: string;
  /** A tone mixed under the caller's voice, so the agent can tell which caller it heard. */
  markerHz?: number;
  /** false: join and listen without publishing a microphone, until told to speak. */
  speak?: boolean;
  /**
   * Stop speaking (unpublish the microphone) once the agent's answer has been heard, and keep
   * listening: a caller who asked and got an answer. Lets many rooms share a small machine.
   */
  untilAnswered?: boolean;
  /** Silence after each phrase, in ms (default: the synthetic speech's own 1.6 s). */
  pauseMs?: number;
}

export interface CallerProcessSpec {
  url: string;
  callers: CallerSpec[];
  /** Band in which the agent's voice is looked for (default 200-1400 Hz). */
  voiceBandHz?: [number, number];
  /** Voices to report the share of, in Hz: the caller's own tenant and everyone else's. */
  voicesHz?: number[];
}

export interface CallerReport {
  room: string;
  identity: string;
  connected: boolean;
  /** Every other participant seen in the room, with its attributes. */
  agents: { identity: string; attributes: Record<string, string> }[];
  framesReceived: number;
  /** Frames of the agents' audio louder than silence. */
  nonSilentFrames: number;
  /** Whether the microphone is still published. */
  speaking: boolean;
  /** Strongest frequency in the voice band of the last seconds of non-silent audio heard. */
  dominantHz?: number;
  /** Mean, over the loud frames heard, of each frame's share of power at each of `voicesHz`. */
  voiceShares?: Record<string, number>;
}

export type ParentMessage =
  { type: 'report'; id: number } | { type: 'speak'; rooms: string[] } | { type: 'hangup' };
export type CallerMessage =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'report'; id: number; callers: CallerReport[] }
  | { type: 'bye' };
