/** The store did not answer (down, stalled past the store timeout, not connected yet). */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
