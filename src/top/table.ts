/**
 * Fixed-width tables that fit the terminal: every line is exactly the terminal width, nothing
 * wraps, and when space runs out columns give way in a set order instead of the line being cut.
 */

export interface Column<T> {
  title: string;
  /** Width wanted: usually the widest value on screen, capped. */
  preferred: number;
  /** Narrowest it may be squeezed to (its values are then cut with `…`); never below the title. */
  min: number;
  right?: boolean;
  /**
   * Order in which columns are dropped when even their minimum widths do not fit, lowest first.
   * A column without it is never dropped.
   */
  drop?: number;
  /** Shown only when there is room to spare: dropped before any other column is squeezed. */
  extra?: boolean;
  value(row: T): string;
}

export interface PlannedColumn<T> {
  column: Column<T>;
  width: number;
}

/** Control characters would move the cursor; they are shown as spaces. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** Cuts or pads `text` to exactly `width` characters. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const clean = text.replace(CONTROL, ' ');
  if (clean.length > width) return width === 1 ? '…' : `${clean.slice(0, width - 1)}…`;
  return clean.padEnd(width);
}

/**
 * `head` then `tail` in `width`: when they do not both fit, `head` is cut, never `tail`. The
 * tail is what must be seen at a glance in a narrow terminal (DRAINING, STORE DEGRADED).
 */
export function fitKeepingTail(head: string, tail: string, width: number): string {
  if (head.length + tail.length <= width || tail === '') return fit(head + tail, width);
  const room = width - tail.trimStart().length;
  if (room < 2) return fit(tail.trimStart(), width);
  return fit(`${fit(head, room - 1).trimEnd()} ${tail.trimStart()}`, width);
}

function fitRight(text: string, width: number): string {
  return text.length > width ? fit(text, width) : text.padStart(width);
}

function totalWidth(widths: number[]): number {
  return widths.reduce((a, b) => a + b, 0) + Math.max(0, widths.length - 1);
}

/** Narrows the widest squeezable columns one character at a time until the row fits. */
function squeeze<T>(columns: Column<T>[], width: number): number[] {
  const widths = columns.map((c) => c.preferred);
  let excess = totalWidth(widths) - width;
  while (excess > 0) {
    let widest = -1;
    for (let i = 0; i < columns.length; i++) {
      const slack = widths[i]! - columns[i]!.min;
      if (slack > 0 && (widest === -1 || slack > widths[widest]! - columns[widest]!.min))
        widest = i;
    }
    if (widest === -1) break;
    widths[widest]! -= 1;
    excess -= 1;
  }
  return widths;
}

/**
 * Chooses the columns and their widths for a terminal `width` wide: extras go first, then the
 * squeezable columns narrow to their minimum, then columns are dropped by their `drop` order.
 */
export function planColumns<T>(columns: Column<T>[], width: number): PlannedColumn<T>[] {
  let active = columns.map((c) => ({
    ...c,
    min: Math.min(c.preferred, Math.max(c.min, c.title.length)),
  }));
  for (;;) {
    const hasExtras = active.some((c) => c.extra);
    const widths = hasExtras ? active.map((c) => c.preferred) : squeeze(active, width);
    if (totalWidth(widths) <= width)
      return active.map((column, i) => ({ column, width: widths[i]! }));
    const droppable = active
      .filter((c) => c.drop !== undefined && (!hasExtras || c.extra))
      .sort((a, b) => a.drop! - b.drop!)[0];
    if (!droppable) return active.map((column, i) => ({ column, width: widths[i]! }));
    active = active.filter((c) => c !== droppable);
  }
}

/** One line of the table: the titles when `row` is undefined. Exactly `width` characters. */
export function renderRow<T>(plan: PlannedColumn<T>[], row: T | undefined, width: number): string {
  const cells = plan.map(({ column, width: w }) => {
    const text = row === undefined ? column.title : column.value(row);
    return column.right ? fitRight(text, w) : fit(text, w);
  });
  return fit(cells.join(' '), width);
}

/** The widest of `values` and `title`, capped: a column's preferred width for what is on screen. */
export function widest(title: string, values: Iterable<string>, cap: number): number {
  let w = title.length;
  for (const v of values) if (v.length > w) w = v.length;
  return Math.min(w, cap);
}
