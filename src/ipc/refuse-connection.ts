import type net from 'node:net';
import { PROTOCOL_VERSION, requestIdOf, type RequestId } from './protocol.js';

/** How long a refused client has to send its request, so it reads the refusal instead of `EPIPE`. */
const LINGER_MS = 1_000;
/** Refused sockets kept open at once; beyond this a flood is cut off at once. */
const MAX_LINGERING = 64;
const MAX_REQUEST_BYTES = 64 * 1024;

let lingering = 0;

/**
 * Refuses a connection with a coded error the client can print. Closing at once would make the
 * client's first write fail with `EPIPE` before it reads why; so the error line is sent first,
 * the socket stays open until the client's request line arrives (answered by its id too) or a
 * second passes, and only then is it closed.
 */
export function refuseConnection(socket: net.Socket, code: string, message: string): void {
  const line = (id: RequestId | null) =>
    `${JSON.stringify({ v: PROTOCOL_VERSION, id, error: { code, message } })}\n`;
  socket.on('error', () => undefined);
  if (lingering >= MAX_LINGERING) {
    socket.end(line(null));
    socket.destroySoon();
    return;
  }
  lingering += 1;
  let done = false;
  let received = '';
  const finish = (id: RequestId | null | undefined) => {
    if (done) return;
    done = true;
    lingering -= 1;
    clearTimeout(timer);
    socket.removeAllListeners('data');
    if (id !== undefined && id !== null) socket.write(line(id));
    socket.end();
    socket.destroySoon();
  };
  const timer = setTimeout(() => finish(undefined), LINGER_MS);
  timer.unref();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
    const nl = received.indexOf('\n');
    if (nl !== -1) finish(requestId(received.slice(0, nl)));
    else if (received.length > MAX_REQUEST_BYTES) finish(undefined);
  });
  socket.on('close', () => finish(undefined));
  socket.write(line(null));
}

function requestId(line: string): RequestId | null {
  try {
    return requestIdOf(JSON.parse(line));
  } catch {
    return null; // Not a request: the line-level error already said why.
  }
}
