import { describe, expect, it } from 'vitest';
import { agentEndpoint } from '../../src/worker/connection.js';

describe('agentEndpoint', () => {
  it('turns a server URL into its agent WebSocket endpoint', () => {
    expect(agentEndpoint('http://127.0.0.1:7880')).toBe('ws://127.0.0.1:7880/agent');
    expect(agentEndpoint('https://x.livekit.cloud/')).toBe('wss://x.livekit.cloud/agent');
    expect(agentEndpoint('wss://host/base/')).toBe('wss://host/base/agent');
  });
});
