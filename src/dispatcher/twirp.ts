import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AgentDispatch,
  CreateAgentDispatchRequest,
  DeleteAgentDispatchRequest,
  ListAgentDispatchRequest,
  ListAgentDispatchResponse,
} from '@livekit/protocol';
import type { Logger } from 'pino';
import { bearerToken, type TokenCheck } from './auth.js';
import { errorMessage } from '../errors/describe-error.js';

const PREFIX = '/twirp/livekit.AgentDispatchService/';
const MAX_BODY_BYTES = 1 << 20;

/** What the Twirp endpoint needs from the dispatcher. */
export interface DispatchApi {
  createDispatch(req: CreateAgentDispatchRequest): AgentDispatch;
  listDispatch(req: ListAgentDispatchRequest): AgentDispatch[];
  /** Undefined when the room has no dispatch of that id. */
  deleteDispatch(req: DeleteAgentDispatchRequest): AgentDispatch | undefined;
}

class TwirpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new TwirpError(413, 'invalid_argument', 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, err: TwirpError): void {
  // The SDK parses the body as JSON only when the content type is exactly this.
  res.writeHead(err.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code: err.code, msg: err.message }));
}

const METHODS = new Set(['CreateDispatch', 'ListDispatch', 'DeleteDispatch']);

/**
 * `POST /twirp/livekit.AgentDispatchService/{CreateDispatch,ListDispatch,DeleteDispatch}`, JSON or protobuf as
 * Twirp allows, authorised by a token with the roomAdmin grant (for that room, if it names one).
 */
export function handleTwirp(api: DispatchApi, tokens: TokenCheck, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (!path.startsWith(PREFIX))
        throw new TwirpError(404, 'bad_route', `no handler for ${path}`);
      if (req.method !== 'POST') throw new TwirpError(404, 'bad_route', 'twirp methods take POST');
      const method = path.slice(PREFIX.length);
      if (!METHODS.has(method)) throw new TwirpError(404, 'bad_route', `no method ${method}`);

      const grant = await tokens.videoGrant(bearerToken(req));
      if (!grant) throw new TwirpError(401, 'unauthenticated', 'invalid or missing token');
      if (!grant.roomAdmin)
        throw new TwirpError(403, 'permission_denied', 'token lacks the roomAdmin grant');

      const binary = (req.headers['content-type'] ?? '').startsWith('application/protobuf');
      const body = await readBody(req);
      const parse = <T>(fromJson: (j: unknown) => T, fromBinary: (b: Uint8Array) => T): T => {
        try {
          return binary
            ? fromBinary(body)
            : fromJson(body.length ? JSON.parse(body.toString('utf8')) : {});
        } catch {
          throw new TwirpError(400, 'malformed', 'request body does not decode');
        }
      };
      const checkRoom = (room: string) => {
        if (grant.room && grant.room !== room)
          throw new TwirpError(403, 'permission_denied', 'token is for another room');
      };

      let reply: ListAgentDispatchResponse | AgentDispatch;
      if (method === 'CreateDispatch') {
        const r = parse(
          (j) => CreateAgentDispatchRequest.fromJson(j as never, { ignoreUnknownFields: true }),
          (b) => CreateAgentDispatchRequest.fromBinary(b),
        );
        if (!r.room) throw new TwirpError(400, 'invalid_argument', 'room is required');
        checkRoom(r.room);
        reply = api.createDispatch(r);
      } else if (method === 'DeleteDispatch') {
        const r = parse(
          (j) => DeleteAgentDispatchRequest.fromJson(j as never, { ignoreUnknownFields: true }),
          (b) => DeleteAgentDispatchRequest.fromBinary(b),
        );
        if (!r.room) throw new TwirpError(400, 'invalid_argument', 'room is required');
        checkRoom(r.room);
        const deleted = api.deleteDispatch(r);
        // LiveKit's own answer for an unknown id.
        if (!deleted) throw new TwirpError(404, 'not_found', 'dispatch ID not found');
        reply = deleted;
      } else {
        const r = parse(
          (j) => ListAgentDispatchRequest.fromJson(j as never, { ignoreUnknownFields: true }),
          (b) => ListAgentDispatchRequest.fromBinary(b),
        );
        if (!r.room) throw new TwirpError(400, 'invalid_argument', 'room is required');
        checkRoom(r.room);
        reply = new ListAgentDispatchResponse({ agentDispatches: api.listDispatch(r) });
      }
      if (binary) {
        res.writeHead(200, { 'content-type': 'application/protobuf' });
        res.end(reply.toBinary());
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(reply.toJsonString());
      }
    } catch (err) {
      if (err instanceof TwirpError) {
        sendError(res, err);
        return;
      }
      logger.error({ err: errorMessage(err) }, 'twirp handler failed');
      sendError(res, new TwirpError(500, 'internal', 'internal error'));
    }
  };
}
