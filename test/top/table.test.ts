import { describe, expect, it } from 'vitest';
import { planColumns, renderRow, type Column } from '../../src/top/table.js';

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
