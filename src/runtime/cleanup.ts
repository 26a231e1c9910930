import type { Logger } from 'pino';
import { describeError } from '../errors/describe-error.js';

/**
 * What start-up opened, in the order it opened it. `run()` closes it in reverse, each step once,
 * and one step failing does not keep the next from running: a failed start and a stop both leave
 * no socket, port, process or timer behind.
 */
export class Cleanup {
  readonly #steps: { name: string; close: () => unknown }[] = [];

  constructor(private readonly logger: Logger) {}

  add(name: string, close: () => unknown): void {
    this.#steps.push({ name, close });
  }

  async run(): Promise<void> {
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      try {
        await step.close();
      } catch (err) {
        this.logger.warn({ error: describeError(err) }, `closing the ${step.name} failed`);
      }
    }
  }
}
