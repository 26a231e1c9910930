import { EventEmitter } from 'node:events';
import { inference, llm, stt, tts, VAD } from '@livekit/agents';
import { sessionScope } from '../scope/session-scope.js';

/**
 * A provider object shared between sessions (a VAD or turn detector loaded once in `prewarm`, a
 * tenant's cached STT/LLM/TTS) is one EventEmitter that every session's agents-js
 * `AgentActivity` subscribes to (`metrics_collected`, `error`). Stock agents-js runs one session
 * per process, so there every event on the model is that session's. In one process, each
 * session would receive every other session's metrics (wrong usage totals, one tenant's figures
 * in another's events), and one session's unrecoverable STT or TTS error would close every live
 * session of that model.
 *
 * The models' streams run in the async context of the session that opened them, so an event
 * emitted there belongs to that session: it is delivered to the listeners that session added, and
 * to listeners added outside any session (worker-wide ones, from `prewarm` or the config), never
 * to another session's. An event emitted outside any session reaches every listener, as stock.
 * Whatever listeners a session leaves on a shared model when it ends are removed.
 */
const SCOPED_EVENTS: ReadonlySet<string | symbol> = new Set(['metrics_collected', 'error']);

type Listener = (...args: unknown[]) => void;
interface Registration {
  emitter: EventEmitter;
  event: string | symbol;
  listener: Listener;
}

/** The session each scoped listener was added in; worker-wide listeners are absent. */
const ownerOf = new WeakMap<Listener, string>();
/** Live sessions' listeners on shared models: one entry per live session, removed at its end. */
const bySession = new Map<string, Set<Registration>>();
const base = EventEmitter.prototype;
const PATCHED = Symbol.for('openrtc.sessionScopedModelEvents');

function currentSession(): string | undefined {
  return sessionScope.getStore()?.sessionId;
}

function track(emitter: EventEmitter, event: string | symbol, listener: Listener): void {
  if (!SCOPED_EVENTS.has(event)) return;
  const sessionId = currentSession();
  if (sessionId === undefined) return;
  ownerOf.set(listener, sessionId);
  // `once` wraps the listener; removing by the original must find the wrapper's owner too.
  const original = (listener as { listener?: unknown }).listener;
  if (typeof original === 'function') ownerOf.set(original as Listener, sessionId);
  // A registration made after its session ended is not tracked: there is no live entry to hold it.
  const regs = bySession.get(sessionId);
  if (!regs) return;
  regs.add({ emitter, event, listener });
  // One listener per live session is the design, not a leak (each goes when its session ends):
  // Node's leak warning would fire on every worker past ten calls. Room for them, and the
  // warning keeps its meaning for anything else that piles up.
  const max = emitter.getMaxListeners();
  if (max !== 0 && emitter.listenerCount(event) + 1 > max)
    emitter.setMaxListeners(max + EventEmitter.defaultMaxListeners);
}

function untrack(emitter: EventEmitter, event: string | symbol, listener: Listener): void {
  if (!SCOPED_EVENTS.has(event)) return;
  const sessionId = ownerOf.get(listener);
  const regs = sessionId === undefined ? undefined : bySession.get(sessionId);
  if (!regs) return;
  for (const r of regs) {
    const original = (r.listener as { listener?: unknown }).listener;
    if (
      r.emitter === emitter &&
      r.event === event &&
      (r.listener === listener || original === listener)
    ) {
      regs.delete(r);
      return;
    }
  }
}

const methods = {
  on(this: EventEmitter, event: string | symbol, listener: Listener) {
    track(this, event, listener);
    return base.on.call(this, event, listener);
  },
  prependListener(this: EventEmitter, event: string | symbol, listener: Listener) {
    track(this, event, listener);
    return base.prependListener.call(this, event, listener);
  },
  removeListener(this: EventEmitter, event: string | symbol, listener: Listener) {
    untrack(this, event, listener);
    return base.removeListener.call(this, event, listener);
  },
  emit(this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    const sessionId = SCOPED_EVENTS.has(event) ? currentSession() : undefined;
    const listeners = sessionId === undefined ? [] : (this.rawListeners(event) as Listener[]);
    // No session to scope to, or nobody listening (an unheard 'error' throws, as stock).
    if (listeners.length === 0) return base.emit.call(this, event, ...args);
    let delivered = false;
    for (const listener of listeners) {
      const owner = ownerOf.get(listener);
      if (owner !== undefined && owner !== sessionId) continue;
      delivered = true;
      Reflect.apply(listener, this, args);
    }
    return delivered;
  },
};

/** The base classes of every agents-js model whose instances sessions may share. */
function sharedModelPrototypes(): object[] {
  // agents-js does not export the streaming turn detector's base; reach it through its subclass.
  const turnDetectorBase = Object.getPrototypeOf(inference.TurnDetector.prototype) as object;
  return [VAD.prototype, stt.STT.prototype, tts.TTS.prototype, llm.LLM.prototype, turnDetectorBase];
}

/** Installs session scoping on the shared models' events, once per process. */
export function scopeSharedModelEvents(): void {
  for (const proto of sharedModelPrototypes()) {
    if (Object.hasOwn(proto, PATCHED)) continue;
    const own = {
      ...methods,
      addListener: methods.on,
      off: methods.removeListener,
      [PATCHED]: true,
    };
    for (const [name, value] of Object.entries(own))
      Object.defineProperty(proto, name, { value, configurable: true, writable: true });
    Object.defineProperty(proto, PATCHED, { value: true });
  }
}

/** From now until `endSessionListeners`, listeners `sessionId` adds on shared models are tracked. */
export function beginSessionListeners(sessionId: string): void {
  if (!bySession.has(sessionId)) bySession.set(sessionId, new Set());
}

/**
 * Removes whatever listeners `sessionId` still holds on shared models (agents-js removes its own
 * when the `AgentSession` closes; a session torn down before that, or agent code that subscribed
 * itself, would otherwise keep them for the worker's life). Returns how many it removed.
 */
export function endSessionListeners(sessionId: string): number {
  const regs = bySession.get(sessionId);
  bySession.delete(sessionId);
  if (!regs) return 0;
  for (const r of regs) base.removeListener.call(r.emitter, r.event, r.listener);
  return regs.size;
}

/** Sessions being tracked and the listeners they hold on shared models. */
export function sharedModelListenerCounts(): { sessions: number; listeners: number } {
  let listeners = 0;
  for (const regs of bySession.values()) listeners += regs.size;
  return { sessions: bySession.size, listeners };
}
