import type { PhoneNumberSource } from './types.js';
import { describeValue, isValidTenantId, tenantIdProblem } from './tenant-id.js';

/** The parts of a job request that can name its tenant (admission's request has these fields). */
export interface TenantInputs {
  /** Job (dispatch) metadata, usually JSON. */
  metadata: string;
  roomMetadata?: string;
  /** Job attributes, e.g. `sip.trunkPhoneNumber`. */
  attributes?: Record<string, string>;
}

export type TenantSource = 'job_metadata' | 'room_metadata' | 'dialed_number' | 'default';

export type TenantResolution =
  | { ok: true; tenant: string; source: TenantSource }
  | { ok: false; reason: 'invalid_tenant'; message: string };

export type PhoneLookup = (dialed: string) => string | undefined | Promise<string | undefined>;

export interface ResolveTenantOptions {
  metadataKey: string;
  defaultTenant: string;
  phoneNumbers?: PhoneLookup;
}

export const DIALED_NUMBER_KEY = 'dialed_number';
export const SIP_TRUNK_NUMBER_ATTRIBUTE = 'sip.trunkPhoneNumber';

type ParsedMetadata =
  { ok: true; value: Record<string, unknown> | undefined } | { ok: false; message: string };

/** Empty metadata means "no tenant here"; anything else must be a JSON object. */
export function parseMetadata(raw: string | undefined, field: string): ParsedMetadata {
  if (raw === undefined || raw.trim() === '') return { ok: true, value: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, message: `${field} is not valid JSON` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, message: `${field} is not a JSON object (got ${describeValue(parsed)})` };
  }
  return { ok: true, value: parsed as Record<string, unknown> };
}

/**
 * The tenant named by the metadata, validated exactly as given. `Object.hasOwn` keeps a
 * `__proto__` key or an inherited property from ever being read as a tenant.
 */
export function parseTenantFromMetadata(
  job: Pick<TenantInputs, 'metadata' | 'roomMetadata'>,
  metadataKey: string,
):
  | { ok: true; tenant: string | undefined; source?: TenantSource; dialed?: string }
  | { ok: false; message: string } {
  const jobMeta = parseMetadata(job.metadata, 'job metadata');
  if (!jobMeta.ok) return jobMeta;
  const roomMeta = parseMetadata(job.roomMetadata, 'room metadata');
  const candidates: [Record<string, unknown> | undefined, TenantSource, string][] = [
    [jobMeta.value, 'job_metadata', 'metadata'],
    // A room's metadata is set by whoever created the room; unparseable room metadata is not the
    // dispatcher's mistake, so it only counts when it parses.
    [roomMeta.ok ? roomMeta.value : undefined, 'room_metadata', 'room metadata'],
  ];
  for (const [meta, source, label] of candidates) {
    if (meta && Object.hasOwn(meta, metadataKey)) {
      const value = meta[metadataKey];
      if (!isValidTenantId(value)) {
        return {
          ok: false,
          message: `${label}.${metadataKey}: ${tenantIdProblem(describeValue(value))}`,
        };
      }
      return { ok: true, tenant: value, source };
    }
  }
  // The number comes from the dispatch first, else from the room (an automatically dispatched
  // job has no metadata of its own; whoever created the room may have put the number there).
  const dialedIn = (meta: Record<string, unknown> | undefined) => {
    const value =
      meta && Object.hasOwn(meta, DIALED_NUMBER_KEY) ? meta[DIALED_NUMBER_KEY] : undefined;
    return typeof value === 'string' && value ? value : undefined;
  };
  const dialed = dialedIn(jobMeta.value) ?? dialedIn(roomMeta.ok ? roomMeta.value : undefined);
  return {
    ok: true,
    tenant: undefined,
    ...(dialed !== undefined ? { dialed } : {}),
  };
}

export async function resolveTenant(
  job: TenantInputs,
  opts: ResolveTenantOptions,
): Promise<TenantResolution> {
  const parsed = parseTenantFromMetadata(job, opts.metadataKey);
  if (!parsed.ok) return { ok: false, reason: 'invalid_tenant', message: parsed.message };
  if (parsed.tenant !== undefined)
    return { ok: true, tenant: parsed.tenant, source: parsed.source ?? 'job_metadata' };

  const attr =
    job.attributes && Object.hasOwn(job.attributes, SIP_TRUNK_NUMBER_ATTRIBUTE)
      ? job.attributes[SIP_TRUNK_NUMBER_ATTRIBUTE]
      : undefined;
  const dialed = parsed.dialed ?? (attr || undefined);
  if (dialed !== undefined && opts.phoneNumbers) {
    const mapped = await opts.phoneNumbers(dialed);
    if (mapped !== undefined) {
      if (!isValidTenantId(mapped)) {
        return {
          ok: false,
          reason: 'invalid_tenant',
          message: `tenants.phoneNumbers (for the dialed number): ${tenantIdProblem(describeValue(mapped))}`,
        };
      }
      return { ok: true, tenant: mapped, source: 'dialed_number' };
    }
  }
  return { ok: true, tenant: opts.defaultTenant, source: 'default' };
}

export function phoneNumberLookup(source: PhoneNumberSource | undefined): PhoneLookup | undefined {
  if (source === undefined) return undefined;
  if (typeof source === 'function') return source;
  return (dialed) => (Object.hasOwn(source, dialed) ? source[dialed] : undefined);
}
