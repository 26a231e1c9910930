import { z } from 'zod';

/**
 * A record whose keys come from tenant ids (or phone numbers, or anything else outside input can
 * name). zod's own `z.record` silently drops a `__proto__` key, and a plain `{}` answers
 * `constructor` or `toString` with a built-in, so every valid id would not be safe in one. This
 * parses each key and value with the given schemas (issues keep their key in the path) into a
 * null-prototype object, where every key, `__proto__` included, is an ordinary own property.
 */
export function tenantKeyedRecord<K extends z.ZodType<string>, V extends z.ZodType>(
  key: K,
  value: V,
  expected: string,
) {
  return z
    .custom<Record<string, z.input<V>>>(
      (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
      { error: `expected ${expected}` },
    )
    .transform((input, ctx) => {
      const out = Object.create(null) as Record<string, z.output<V>>;
      for (const k of Object.keys(input)) {
        const keyResult = key.safeParse(k);
        if (!keyResult.success) {
          for (const issue of keyResult.error.issues)
            ctx.addIssue({ code: 'custom', message: issue.message, path: [k] });
          continue;
        }
        const valueResult = value.safeParse(input[k]);
        if (!valueResult.success) {
          for (const issue of valueResult.error.issues)
            ctx.addIssue({ code: 'custom', message: issue.message, path: [k, ...issue.path] });
          continue;
        }
        out[k] = valueResult.data as z.output<V>;
      }
      return out;
    });
}
