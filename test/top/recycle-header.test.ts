import { describe, expect, it } from 'vitest';
import { growthText, lifetimeText } from '../../src/top/format.js';

describe("top's header", () => {
  it('shows sessions served, the nearest condition and the RSS growth per 1,000 sessions', async () => {
    const r = {
      sessionsServed: 18,
      rssMiBPer1000Sessions: 2.14,
      nativeMiBPer1000Sessions: 1,
      state: 'serving' as const,
      nearest: { name: 'maxSessions' as const, value: 18, limit: 20, label: 'maxSessions 18/20' },
    };
    expect(lifetimeText(r)).toBe('  served 18  recycle: maxSessions 18/20');
    expect(growthText(r)).toBe(' (+2.1 MiB/1k sessions)');
    expect(growthText({ ...r, rssMiBPer1000Sessions: null })).toBe('');
    expect(lifetimeText({ ...r, nearest: undefined })).toBe('  served 18');
    expect(lifetimeText(undefined)).toBe('');
  });
});
