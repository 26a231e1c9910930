import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveTenant } from '../../src/tenancy/resolve-tenant.js';
import { isValidTenantId } from '../../src/tenancy/tenant-id.js';

const opts = { metadataKey: 'tenant', defaultTenant: 'default' };
const resolve = (metadata: string, roomMetadata?: string) =>
  resolveTenant(
    {
      metadata,
      ...(roomMetadata !== undefined ? { roomMetadata } : {}),
    },
    opts,
  );

describe('resolveTenant', () => {
  it('takes the tenant exactly as given', async () => {
    expect(await resolve('{"tenant":"acme-EU_2"}')).toEqual({
      ok: true,
      tenant: 'acme-EU_2',
      source: 'job_metadata',
    });
    expect(await resolve('{"tenant":"' + 'a'.repeat(128) + '"}')).toMatchObject({ ok: true });
  });

  it.each([
    [
      '{"tenant":" acme"}',
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got " acme"',
    ],
    [
      '{"tenant":"acmé"}',
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got a string of 4 characters',
    ],
    [
      '{"tenant":null}',
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got null',
    ],
    [
      '{"tenant":42}',
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got a number',
    ],
    [
      '{"tenant":{"id":"acme"}}',
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got an object',
    ],
    [
      '{"tenant":""}',
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got an empty string',
    ],
    [
      `{"tenant":"${'a'.repeat(129)}"}`,
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got a string of 129 characters',
    ],
    ['not json', 'job metadata is not valid JSON'],
    ['[1,2]', 'job metadata is not a JSON object (got an array)'],
    ['"acme"', 'job metadata is not a JSON object (got "acme")'],
  ])('rejects %s', async (metadata, message) => {
    expect(await resolve(metadata)).toEqual({ ok: false, reason: 'invalid_tenant', message });
  });

  it('never reads a tenant through __proto__', async () => {
    expect(await resolve('{"__proto__":{"tenant":"evil"}}')).toEqual({
      ok: true,
      tenant: 'default',
      source: 'default',
    });
    expect(await resolve('{"tenant":"__proto__"}')).toEqual({
      ok: true,
      tenant: '__proto__',
      source: 'job_metadata',
    });
  });

  it('prefers job metadata over room metadata, and uses the room when the job names none', async () => {
    expect(await resolve('{"tenant":"job"}', '{"tenant":"room"}')).toMatchObject({
      tenant: 'job',
      source: 'job_metadata',
    });
    expect(await resolve('', '{"tenant":"room"}')).toMatchObject({
      tenant: 'room',
      source: 'room_metadata',
    });
    expect(await resolve('   ')).toMatchObject({ tenant: 'default', source: 'default' });
  });

  it('never throws, and always yields a valid tenant or a reason (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.dictionary(fc.string(), fc.jsonValue()).map((o) => JSON.stringify({ ...o })),
        ),
        async (metadata) => {
          const r = await resolve(metadata);
          if (r.ok) expect(isValidTenantId(r.tenant)).toBe(true);
          else expect(r.reason).toBe('invalid_tenant');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips every valid id exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/), async (tenant) => {
        expect(await resolve(JSON.stringify({ tenant }))).toEqual({
          ok: true,
          tenant,
          source: 'job_metadata',
        });
      }),
      { numRuns: 300 },
    );
  });
});
