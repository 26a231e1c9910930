/**
 * What `openrtc dev` serves and `openrtc dispatch` aims at when no LiveKit server is configured:
 * LiveKit's own dev-mode port and credentials, so the same defaults work against `livekit-server --dev`.
 */
export const DEV_PORT = 7880;
export const DEV_URL = `http://127.0.0.1:${DEV_PORT}`;
export const DEV_CREDENTIALS = { apiKey: 'devkey', apiSecret: 'secret' } as const;
