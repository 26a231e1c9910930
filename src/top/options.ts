import { z } from 'zod';

export const SORT_KEYS = ['age', 'cpu', 'tenant', 'status', 'agent'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const STATUS_FILTERS = ['starting', 'running', 'closing'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

/** The names these values had before: scripts that pass them keep working. */
const renamedFrom = (old: string, current: string) => (value: unknown) =>
  value === old ? current : value;

/** `openrtc top`'s flags, validated; each message names the flag the user typed. */
export const TopOptionsSchema = z.object({
  socket: z.string().min(1, { error: '--socket: expected a socket path' }).optional(),
  tenant: z
    .string()
    .min(1, { error: '--tenant: expected a tenant id' })
    .max(128, { error: '--tenant: at most 128 characters' })
    .optional(),
  sort: z.preprocess(
    renamedFrom('state', 'status'),
    z.enum(SORT_KEYS, { error: `--sort: expected one of ${SORT_KEYS.join(', ')}` }).default('age'),
  ),
  status: z.preprocess(
    renamedFrom('active', 'running'),
    z
      .enum(STATUS_FILTERS, { error: `--status: expected one of ${STATUS_FILTERS.join(', ')}` })
      .optional(),
  ),
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
