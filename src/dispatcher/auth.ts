import type { IncomingMessage } from 'node:http';
import { TokenVerifier } from 'livekit-server-sdk';
import { z } from 'zod';

const videoGrant = z
  .object({
    agent: z.boolean().optional(),
    roomAdmin: z.boolean().optional(),
    room: z.string().optional(),
  })
  .loose();

const claims = z.object({ video: videoGrant.optional() }).loose();

export type VideoClaims = z.infer<typeof videoGrant>;

/** Bearer token from the Authorization header, else the `access_token` query parameter. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (m?.[1]) return m[1];
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  return url.searchParams.get('access_token') ?? undefined;
}

export class TokenCheck {
  readonly #verifier: TokenVerifier;

  constructor(apiKey: string, apiSecret: string) {
    this.#verifier = new TokenVerifier(apiKey, apiSecret);
  }

  /** The token's video grant if its signature, issuer and expiry check out; undefined otherwise. */
  async videoGrant(token: string | undefined): Promise<VideoClaims | undefined> {
    if (!token) return undefined;
    try {
      const payload = claims.safeParse(await this.#verifier.verify(token));
      if (!payload.success) return undefined;
      return payload.data.video ?? {};
    } catch {
      return undefined;
    }
  }
}
