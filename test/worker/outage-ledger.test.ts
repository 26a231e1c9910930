import { describe, expect, it } from 'vitest';
import { OutageLedger } from '../../src/worker/outage-ledger.js';

describe('OutageLedger', () => {
  it('says which sessions live at a drop are still running and how the others ended', () => {
    let now = 1_000;
    const ledger = new OutageLedger(() => now);
    ledger.dropped('support', ['AJ_a', 'AJ_b', 'AJ_c']);
    now = 2_000;
    // A failed reconnect attempt is not a new drop.
    ledger.dropped('support', ['AJ_a']);
    ledger.ended('AJ_b', 'success: room_disconnected');
    ledger.ended('AJ_z', 'success: session_closed');
    now = 4_500;
    expect(ledger.recovered('support')).toEqual({
      outageMs: 3_500,
      stillRunning: ['AJ_a', 'AJ_c'],
      ended: { AJ_b: 'success: room_disconnected' },
    });
    // Forgotten once reported.
    expect(ledger.recovered('support')).toBeUndefined();
  });

  it('keeps registrations apart and reports nothing for one that never dropped', () => {
    const ledger = new OutageLedger(() => 0);
    ledger.dropped('a', ['AJ_1']);
    expect(ledger.recovered('b')).toBeUndefined();
    expect(ledger.recovered('a')?.stillRunning).toEqual(['AJ_1']);
  });
});
