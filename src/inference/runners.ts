import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InferenceRunner } from '@livekit/agents';
import { errorMessage } from '../errors/describe-error.js';

/**
 * The runners agents-js knows about: its public `InferenceRunner.registerRunner` fills this
 * registry (method -> import path), from plugins, user code and `registerLocalEotRunner` below.
 */
export function registeredRunners(): Record<string, string> {
  const runners: Record<string, string> = Object.create(null);
  for (const [method, importPath] of Object.entries(InferenceRunner.registeredRunners)) {
    if (typeof importPath === 'string') runners[method] = importPath;
  }
  return runners;
}

export type LocalEotRegistration =
  { registered: true; method: string } | { registered: false; reason: string };

const require = createRequire(import.meta.url);

/**
 * Registers agents-js's local end-of-turn runner (the `turn-detector-v1-mini` model in
 * `@livekit/local-inference`) the way stock `AgentServer` does in `maybeRegisterLocalEotRunner`
 * (`worker.ts`): once, not over a runner someone already registered for the method, and only when
 * the native binding loads. That function, the runner class and its method id are not exported,
 * so the runner's file is found beside the package's entry point, which is what stock registers
 * too (a file URL the inference process imports), and its method id is read from that module.
 */
export async function registerLocalEotRunner(): Promise<LocalEotRegistration> {
  const entry = pathToFileURL(require.resolve('@livekit/agents'));
  const runnerUrl = new URL('./inference/eot/runner.js', entry);
  if (!existsSync(fileURLToPath(runnerUrl))) {
    return {
      registered: false,
      reason: `this @livekit/agents has no local end-of-turn runner at ${fileURLToPath(runnerUrl)}`,
    };
  }
  const runner = (await import(runnerUrl.href)) as {
    EOT_INFERENCE_METHOD?: unknown;
    default?: unknown;
  };
  const method = runner.EOT_INFERENCE_METHOD;
  if (typeof method !== 'string' || typeof runner.default !== 'function') {
    return {
      registered: false,
      reason: 'the local end-of-turn runner module does not have the shape this openrtc expects',
    };
  }
  if (InferenceRunner.registeredRunners[method]) return { registered: true, method };
  try {
    // agents-js's own check (`_getLocalInferenceModule`) is not exported either: the binding is
    // required from agents-js's location, as that loader does. Loading the binding does not load
    // the model (the inference process does that, once).
    createRequire(entry)('@livekit/local-inference');
  } catch (err) {
    return {
      registered: false,
      reason: `the @livekit/local-inference native binding does not load on this platform (${errorMessage(err)})`,
    };
  }
  InferenceRunner.registerRunner(method, runnerUrl.href);
  return { registered: true, method };
}
