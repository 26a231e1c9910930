import { describe, expect, it } from 'vitest';
import { fitKeepingTail, planColumns, renderRow, type Column } from '../../src/top/table.js';

type Row = Record<string, string>;
const col = (title: string, over: Partial<Column<Row>> = {}): Column<Row> => ({
  title,
  preferred: 10,
  min: 10,
  value: (r) => r[title] ?? '',
  ...over,
});

const names = (plan: { column: Column<Row>; width: number }[]) =>
  plan.map((p) => `${p.column.title}:${p.width}`);

describe('planColumns', () => {
  const columns = [
    col('ID', { preferred: 20, min: 20 }),
    col('NAME', { preferred: 16, min: 6, drop: 3 }),
    col('STATE', { drop: 2 }),
    col('ROOM', { preferred: 20, min: 4, extra: true, drop: 1 }),
  ];

  it('shows everything at its preferred width when it fits', () => {
    expect(names(planColumns(columns, 80))).toEqual(['ID:20', 'NAME:16', 'STATE:10', 'ROOM:20']);
  });

  it('drops extras before squeezing anything', () => {
    expect(names(planColumns(columns, 60))).toEqual(['ID:20', 'NAME:16', 'STATE:10']);
  });

  it('then squeezes, then drops in order; a column without a drop order stays whole', () => {
    expect(names(planColumns(columns, 40))).toEqual(['ID:20', 'NAME:8', 'STATE:10']);
    expect(names(planColumns(columns, 30))).toEqual(['ID:20', 'NAME:9']);
    expect(names(planColumns(columns, 22))).toEqual(['ID:20']);
  });

  it('renders a row exactly as wide as asked, cutting only squeezed cells', () => {
    const plan = planColumns(columns, 40);
    const line = renderRow(
      plan,
      { ID: 'ses_0123456789abcdef', NAME: 'a-very-long-name', STATE: 'active' },
      40,
    );
    expect(line).toHaveLength(40);
    expect(line).toBe('ses_0123456789abcdef a-very-… active    ');
  });
});

describe('fitKeepingTail', () => {
  const head = 'openrtc agency-prod pid 4242 v0.1.0  up 3d 4h';
  const tail = '  DRAINING  STORE DEGRADED (local)';

  it('keeps both as they are when they fit, padded to the width', () => {
    expect(fitKeepingTail(head, tail, 100)).toBe((head + tail).padEnd(100));
  });

  it('cuts the head, never the tail, when both do not fit', () => {
    const line = fitKeepingTail(head, tail, 60);
    expect(line).toHaveLength(60);
    expect(line).toBe('openrtc agency-prod pid 42… DRAINING  STORE DEGRADED (local)');
  });

  it('shows only the tail, cut at its end, when even that does not fit', () => {
    expect(fitKeepingTail(head, tail, 20)).toBe('DRAINING  STORE DEG…');
    expect(fitKeepingTail(head, '', 10)).toBe('openrtc a…');
  });
});
