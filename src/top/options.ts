import { z } from 'zod';

export const SORT_KEYS = ['age', 'cpu', 'tenant', 'state', 'agent'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const STATUS_FILTERS = ['starting', 'active', 'closing'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

/** `openrtc top`'s flags, validated; each message names the flag the user typed. */
export const TopOptionsSchema = z.object({
  socket: z.string().min(1, { error: '--socket: expected a socket path' }).optional(),
  tenant: z
    .string()
    .min(1, { error: '--tenant: expected a tenant id' })
    .max(128, { error: '--tenant: at most 128 characters' })
    .optional(),
  sort: z
    .enum(SORT_KEYS, { error: `--sort: expected one of ${SORT_KEYS.join(', ')}` })
    .default('age'),
  status: z
    .enum(STATUS_FILTERS, { error: `--status: expected one of ${STATUS_FILTERS.join(', ')}` })
    .optional(),
  refreshRate: z
    .number({ error: '--refresh-rate: expected a number of refreshes per second, from 0.5 to 10' })
    .min(0.5, { error: '--refresh-rate: expected a number from 0.5 to 10' })
    .max(10, { error: '--refresh-rate: expected a number from 0.5 to 10' })
    .default(1),
  once: z.boolean().optional(),
  json: z.boolean().optional(),
});

export type TopOptions = z.infer<typeof TopOptionsSchema>;

/** Parses raw flags; the error is one line naming the flag and the value given. */
export function parseTopOptions(
  raw: Record<string, unknown>,
): { ok: true; options: TopOptions } | { ok: false; error: string } {
  const result = TopOptionsSchema.safeParse(raw);
  if (result.success) return { ok: true, options: result.data };
  const issue = result.error.issues[0];
  const key = issue?.path[0];
  const given =
    typeof key === 'string' && key in raw
      ? `, got ${JSON.stringify(raw[key]) ?? String(raw[key])}`
      : '';
  return { ok: false, error: `${issue?.message ?? 'invalid options'}${given}` };
}
