// What the real-room tests wait for and check, in one place: a session's log lines in the
// worker, and what a caller heard.
import { expect } from 'vitest';
import type { DevWorker } from '../dev-worker.js';
import type { CallerProcess } from '../media/callers.js';
import type { CallerReport } from '../media/caller-protocol.js';

type LogRecord = Record<string, unknown>;

export function inRoom(room: string, msg: string): (r: LogRecord) => boolean {
  return (r) => r.room === room && r.msg === msg;
}

/** The session of `room` joined it, heard its caller speak, and answered. */
export async function expectConversation(
  worker: DevWorker,
  room: string,
  tenant: string,
  markerHz: number,
  timeoutMs = 45_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  const next = async (msg: string) => {
    try {
      return await worker.waitForLog(inRoom(room, msg), Math.max(1, until - Date.now()));
    } catch {
      const session = worker.logRecords().find(inRoom(room, 'session started'))?.session_id;
      const lines = worker
        .logRecords()
        .filter((r) => r.room === room || (session !== undefined && r.session_id === session))
        .map((r) => `${new Date(Number(r.time)).toISOString().slice(11, 23)} ${String(r.msg)}`);
      throw new Error(
        `room ${room}: no "${msg}" from its session within ${timeoutMs} ms; its log:\n${lines.join('\n')}`,
      );
    }
  };
  const joined = await next('agent in room');
  expect(joined).toMatchObject({ tenant, attributes: expect.objectContaining({ tenant }) });
  const speaking = await next('user speaking');
  expect(speaking.tenant).toBe(tenant);
  const heard = await next('heard caller');
  // The marker is this room's caller's own: no other caller's audio reached this session.
  expect(
    Math.abs(Number(heard.marker_hz) - markerHz),
    `${room} heard a marker of ${String(heard.marker_hz)} Hz`,
  ).toBeLessThanOrEqual(5);
  await next('agent replied');
}

/** Polls the callers until `room`'s caller has heard at least `frames` loud frames. */
export async function heardAgent(
  callers: CallerProcess,
  room: string,
  frames = 25,
  timeoutMs = 45_000,
): Promise<CallerReport> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const report = (await callers.report()).find((c) => c.room === room);
    if (report && report.nonSilentFrames >= frames && report.dominantHz !== undefined)
      return report;
    if (Date.now() > until)
      throw new Error(
        `the caller in ${room} heard no agent audio within ${timeoutMs} ms: ${JSON.stringify(report)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The caller heard `voiceHz` and, of every other voice, nothing. Another voice mixed in at all
 * would take a share of the same order as the caller's own; what a neighbour 50 Hz away gets
 * without it is the leakage of each reply's onset and Opus, a percent or so.
 */
export function expectVoice(report: CallerReport, voiceHz: number, otherVoicesHz: number[]): void {
  // The strongest frequency is nearer its own voice than any other (a busy machine's playout
  // concealment can smear it by tens of Hz; the shares below are the isolation proof).
  const heard = report.dominantHz ?? 0;
  const nearestOther = Math.min(...otherVoicesHz.map((v) => Math.abs(heard - v)), Infinity);
  expect(
    Math.abs(heard - voiceHz),
    `${report.room} heard ${report.dominantHz} Hz, its own voice is ${voiceHz} Hz`,
  ).toBeLessThan(Math.min(nearestOther, 50));
  expect(
    report.voiceShares?.[String(voiceHz)] ?? 0,
    `${report.room}: share of its own ${voiceHz} Hz`,
  ).toBeGreaterThan(0.3);
  for (const other of otherVoicesHz)
    expect(
      report.voiceShares?.[String(other)] ?? 0,
      `${report.room}: share of ${other} Hz`,
    ).toBeLessThan(0.05);
}

/** The session's last line: `session ended: <reason>` or `session failed: <reason>`. */
export function sessionEnded(
  worker: DevWorker,
  sessionId: unknown,
  timeoutMs = 30_000,
): Promise<LogRecord> {
  return worker.waitForLog(
    (r) => r.session_id === sessionId && /^session (ended|failed): /.test(String(r.msg)),
    timeoutMs,
  );
}
