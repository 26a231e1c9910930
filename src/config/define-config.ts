import type { OpenrtcConfigInput } from './schema.js';

/** Typed identity: gives editors completion for `openrtc.config.ts`. Validation happens at load. */
export function defineConfig(config: OpenrtcConfigInput): OpenrtcConfigInput {
  return config;
}
