// A call that does nothing and stays up until the server ends it, so every accepted job keeps
// its admission slot for as long as a benchmark needs. A started AgentSession is what keeps a
// room-less job alive once its entry returns; it has no models, so it costs next to nothing.
import { defineAgent, voice } from '@livekit/agents';

export default defineAgent({
  entry: async () => {
    // No models at all: without these opt-outs agents-js would provision a VAD and turn detector.
    const session = new voice.AgentSession({ vad: null, turnHandling: { turnDetection: null } });
    await session.start({ agent: new voice.Agent({ instructions: 'Hold the line.' }) });
  },
});
