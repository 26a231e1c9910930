// Loaded into the worker under test with `--import`: the harness's own event-loop delay probe,
// so the figures do not rest on the worker reporting on itself, and cover exactly the hold
// window (the worker's monitor only keeps its last second). Talks over the IPC channel.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Fine enough that an idle loop reads about 2 ms, coarse enough to cost nothing measurable. */
const RESOLUTION_MS = 2;
const NS_PER_MS = 1e6;

const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();

process.on('message', (msg: unknown) => {
  if (msg === 'loop-probe:reset') histogram.reset();
  if (msg === 'loop-probe:read') {
    process.send?.({
      loopProbe: {
        p50Ms: histogram.percentile(50) / NS_PER_MS,
        p99Ms: histogram.percentile(99) / NS_PER_MS,
        maxMs: histogram.max / NS_PER_MS,
        samples: histogram.count,
      },
    });
  }
});
// The probe must not keep a worker alive that has finished draining.
process.channel?.unref();
