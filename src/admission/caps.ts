/** Configured per-tenant caps (`*` is the fallback) with live overrides set by operators. */
export class TenantCaps {
  readonly #overrides = new Map<string, number>();

  constructor(private configured: Record<string, number>) {}

  update(configured: Record<string, number>): void {
    this.configured = configured;
  }

  configuredCap(tenant: string): number | null {
    if (Object.hasOwn(this.configured, tenant)) return this.configured[tenant]!;
    return Object.hasOwn(this.configured, '*') ? this.configured['*']! : null;
  }

  /** Named by the configured caps (not `*`) or given an operator override. */
  names(tenant: string): boolean {
    return (
      this.#overrides.has(tenant) || (tenant !== '*' && Object.hasOwn(this.configured, tenant))
    );
  }

  capFor(tenant: string): number | null {
    return this.#overrides.get(tenant) ?? this.configuredCap(tenant);
  }

  /** null removes the override. */
  setOverride(tenant: string, cap: number | null): void {
    if (cap === null) this.#overrides.delete(tenant);
    else this.#overrides.set(tenant, cap);
  }

  tenants(): string[] {
    return [
      ...new Set([
        ...Object.keys(this.configured).filter((t) => t !== '*'),
        ...this.#overrides.keys(),
      ]),
    ];
  }
}
