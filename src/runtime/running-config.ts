import type { LoadedConfig } from '../config/load-config.js';
import type { OpenrtcConfig } from '../config/schema.js';

/**
 * The config the worker runs now. A reload swaps it whole (keeping what is bound at start: agents,
 * LiveKit credentials, the name, the HTTP listener, inference), so every part that reads the
 * config through this reads the reloaded one.
 */
export class RunningConfig {
  #loaded: LoadedConfig;

  constructor(loaded: LoadedConfig) {
    this.#loaded = loaded;
  }

  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  get config(): OpenrtcConfig {
    return this.#loaded.config;
  }

  replace(next: LoadedConfig): void {
    this.#loaded = next;
  }
}
