/** The phrase stock agents-js's health check answers with while its inference process is down. */
export const NOT_RUNNING = 'inference process not running';

/**
 * A request the inference process could not take: it is down or restarting, disabled, or the
 * method is not one of its runners. Raised at once, so a caller never waits on a dead process.
 */
export class InferenceUnavailableError extends Error {
  override readonly name = 'InferenceUnavailableError';
}
