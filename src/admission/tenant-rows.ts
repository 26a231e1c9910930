import type { CircuitBreaker } from './breaker.js';
import { addCounters, emptyCounters, type TenantCounters } from './counters.js';

/** One tenant's admission state: its counters and, once it has had an outcome, its breaker. Reported as a `TenantRow`. */
export interface TenantEntry {
  readonly counters: TenantCounters;
  breaker: CircuitBreaker | undefined;
}

export interface TenantRowsOptions {
  /** How many idle rows of tenants that are not configured keep a row of their own. */
  maxIdle: number;
  /** Configured tenants (named in the config, or given a cap by an operator) are never folded. */
  isConfigured(tenant: string): boolean;
}

/** The documented default of `tenants.maxIdleTenantRows`. */
export const DEFAULT_IDLE_TENANT_ROWS = 1_000;

/** Idle rows looked at, oldest first, for one whose breaker is closed before the oldest is folded anyway. */
const FOLD_SCAN = 32;

/**
 * Every tenant id that reaches admission gets a row, so tenant ids from traffic could grow the
 * rows (and the snapshot) without bound. Rows of configured tenants and of tenants holding a
 * session or reservation always stay. The others are idle: the `maxIdle` most recently used keep
 * their row, and the least recently used beyond that is folded into one aggregate row, which
 * keeps the worker's totals exact. Rows whose breaker is open or half-open are folded last.
 */
export class TenantRows {
  readonly #rows = new Map<string, TenantEntry>();
  /** Idle rows that may be folded, least recently used first (Map order). */
  readonly #idle = new Map<string, TenantEntry>();
  readonly #folded: TenantCounters = emptyCounters();
  #foldedTenants = 0;

  constructor(private options: TenantRowsOptions) {}

  /** The tenant's row, created if needed; marks it recently used. */
  row(tenant: string): TenantEntry {
    let row = this.#rows.get(tenant);
    if (!row) {
      row = { counters: emptyCounters(), breaker: undefined };
      this.#rows.set(tenant, row);
    }
    this.#place(tenant, row);
    return row;
  }

  /** The row if the tenant has one; no side effects. */
  find(tenant: string): TenantEntry | undefined {
    return this.#rows.get(tenant);
  }

  /** Call after a row's live or reserved count changed: a row that no longer holds a session becomes idle. */
  settle(tenant: string): void {
    const row = this.#rows.get(tenant);
    if (row) this.#place(tenant, row);
  }

  /** The config changed: which tenants are configured may have changed too. */
  update(options: TenantRowsOptions): void {
    this.options = options;
    for (const [tenant, row] of this.#rows) {
      if (this.#pinned(tenant, row)) this.#idle.delete(tenant);
      else if (!this.#idle.has(tenant)) this.#idle.set(tenant, row);
    }
    this.#foldOverflow();
  }

  tenants(): IterableIterator<string> {
    return this.#rows.keys();
  }

  rows(): IterableIterator<TenantEntry> {
    return this.#rows.values();
  }

  /** Counters of every folded row added together; undefined until one has been folded. */
  folded(): { counters: TenantCounters; tenants: number } | undefined {
    return this.#foldedTenants > 0
      ? { counters: this.#folded, tenants: this.#foldedTenants }
      : undefined;
  }

  get size(): number {
    return this.#rows.size;
  }

  #pinned(tenant: string, row: TenantEntry): boolean {
    return row.counters.live + row.counters.reserved > 0 || this.options.isConfigured(tenant);
  }

  #place(tenant: string, row: TenantEntry): void {
    this.#idle.delete(tenant);
    if (this.#pinned(tenant, row)) return;
    this.#idle.set(tenant, row);
    this.#foldOverflow();
  }

  #foldOverflow(): void {
    while (this.#idle.size > this.options.maxIdle) {
      let victim: string | undefined;
      let scanned = 0;
      for (const [tenant, row] of this.#idle) {
        victim ??= tenant;
        if (!row.breaker || row.breaker.state === 'closed') {
          victim = tenant;
          break;
        }
        if (++scanned >= FOLD_SCAN) break;
      }
      if (victim === undefined) return;
      const row = this.#idle.get(victim)!;
      this.#idle.delete(victim);
      this.#rows.delete(victim);
      addCounters(this.#folded, row.counters);
      this.#foldedTenants += 1;
    }
  }
}
