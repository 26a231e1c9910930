/** The label value every tenant past the limit shares. */
export const OTHER_TENANT_LABEL = '_other';

/**
 * Which `tenant` label value a tenant's series carry. The first `limit` tenants seen keep a
 * label of their own for the life of the worker; every later one folds into `_other`, so no
 * stream of tenant ids can grow the series count without bound. Configured tenants are claimed
 * at start, so a flood of unknown ids cannot take their place. Label values are tenant ids,
 * which admission has already validated (letters, digits, `-`, `_`): nothing a caller writes
 * verbatim, and nothing secret, becomes a label.
 */
export class TenantLabels {
  readonly #own = new Set<string>();
  #limit: number;
  #folded = new Set<string>();
  /** Distinct folded tenants are counted up to here, then only "at least". */
  static readonly FOLDED_COUNT_LIMIT = 10_000;

  constructor(limit: number) {
    this.#limit = limit;
  }

  setLimit(limit: number): void {
    // Tenants that have a label keep it; a smaller limit only stops new ones.
    this.#limit = limit;
  }

  /** The label for `tenant`, giving it one of its own while there is room. */
  claim(tenant: string): string {
    if (this.#own.has(tenant)) return tenant;
    if (this.#own.size < this.#limit) {
      this.#own.add(tenant);
      return tenant;
    }
    if (this.#folded.size < TenantLabels.FOLDED_COUNT_LIMIT) this.#folded.add(tenant);
    return OTHER_TENANT_LABEL;
  }

  /** The label for `tenant` without claiming one. */
  peek(tenant: string): string {
    return this.#own.has(tenant) ? tenant : OTHER_TENANT_LABEL;
  }

  /** True when `tenant` has series of its own. */
  owns(tenant: string): boolean {
    return this.#own.has(tenant);
  }

  get ownCount(): number {
    return this.#own.size;
  }

  /** Distinct tenants folded into `_other` (capped at FOLDED_COUNT_LIMIT). */
  get foldedCount(): number {
    return this.#folded.size;
  }
}
