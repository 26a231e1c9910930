/** What the snapshot, `top`, `/worker` and `/metrics` say about the store. */
export interface StoreHealth {
  state: 'ok' | 'degraded';
  /** Epoch ms of the last change. */
  since: number;
  /** Why it is degraded (never carries a password). */
  reason?: string;
}
