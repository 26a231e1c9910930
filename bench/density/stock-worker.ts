// The stock agents-js worker, as its docs run it: `AgentServer` with its own process pool, one
// child process per job. The density benchmark spawns this file and measures the whole tree.
import { AgentServer, initializeLogger, ServerOptions } from '@livekit/agents';

const {
  LIVEKIT_URL: url,
  LIVEKIT_API_KEY: apiKey,
  LIVEKIT_API_SECRET: apiSecret,
  BENCH_AGENT_MODULE: agent,
} = process.env;
if (!url || !apiKey || !apiSecret || !agent)
  throw new Error(
    'LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET and BENCH_AGENT_MODULE are required',
  );

/** openrtc's cap in the benchmark config (maxConcurrentSessions), and LiveKit's target load. */
const CAPACITY = 2_000;
const TARGET_LOAD = 0.7;

initializeLogger({ pretty: false, level: 'warn' });
const server = new AgentServer(
  new ServerOptions({
    agent,
    agentName: 'vad-agent',
    wsURL: url,
    apiKey,
    apiSecret,
    // Production mode would keep min(cores, 4) = 2 warm processes here; keep the same pool, but
    // without production's CPU-load threshold, which would refuse jobs long before memory runs out.
    numIdleProcesses: 2,
    loadThreshold: Infinity,
    // The load it reports decides whether LiveKit sends it jobs at all: the server offers a job
    // only while some worker reports a load under its target (0.7), whatever the status says.
    // Stock's default load is the machine's CPU share, which on a box shared with the server and
    // the callers sits above 0.7 and leaves most calls unanswered. Report what openrtc reports
    // with its overload protection off: the session share, 0.7 at the same cap.
    loadFunc: (worker) => Promise.resolve((worker.activeJobs.length / CAPACITY) * TARGET_LOAD),
    production: false,
    host: '127.0.0.1',
    port: 0,
    shutdownProcessTimeout: 2_000,
  }),
);

const running = server.run();
const stop = async () => {
  await server.close();
  await running.catch(() => undefined);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
await running;
