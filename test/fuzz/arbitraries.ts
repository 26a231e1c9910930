import fc from 'fast-check';

/**
 * Cases per property: a bounded number in `npm test`, many more in `npm run fuzz`
 * (OPENRTC_FUZZ_RUNS multiplies them).
 */
const SCALE = (() => {
  const n = Number(process.env.OPENRTC_FUZZ_RUNS ?? '1');
  return Number.isFinite(n) && n > 0 ? n : 1;
})();

export function runs(base: number): number {
  return Math.max(1, Math.round(base * SCALE));
}

/** A test's time limit grows with its number of cases. */
export function fuzzTimeout(baseMs: number): number {
  return Math.round(baseMs * Math.max(1, SCALE));
}

/** Valid ids a plain object would answer with a built-in, and other names that matter. */
export const AWKWARD_TENANTS = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  'default',
  'acme',
  'globex',
];

export const validTenant = fc.oneof(
  fc.constantFrom(...AWKWARD_TENANTS),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
);

/** Anything that may arrive as a tenant id: valid, malformed, not a string at all. */
export const anyTenantValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: validTenant },
  { weight: 2, arbitrary: fc.string({ maxLength: 200, unit: 'grapheme' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' acme',
      'acme ',
      'ACME!',
      'a'.repeat(129),
      '*',
      '(invalid)',
      '(other)',
      '../etc',
      'acme\n',
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** Job metadata as a dispatcher might send it: a tenant, a dialed number, noise, or garbage. */
export const anyMetadata: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({ tenant: anyTenantValue }, { requiredKeys: [] })
      .map((o) => JSON.stringify(o)),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('+15550100', '+19999999', '__proto__')
      .map((n) => JSON.stringify({ dialed_number: n })),
  },
  {
    weight: 1,
    arbitrary: validTenant.map((t) => `{"__proto__":{"tenant":"x"},"tenant":${JSON.stringify(t)}}`),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 2_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  },
);

/** The tenant the metadata names, when it names one as an own `tenant` key of a JSON object. */
export function namedTenant(metadata: string): { named: false } | { named: true; value: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    return { named: false };
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    !Object.hasOwn(parsed, 'tenant')
  )
    return { named: false };
  return { named: true, value: (parsed as Record<string, unknown>).tenant };
}
