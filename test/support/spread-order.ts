/**
 * `items` with those `picked` moved among the rest, one in the middle of each of as many equal
 * stretches of the rest; each set keeps its own order.
 */
export function spread<T>(items: readonly T[], picked: (item: T) => boolean): T[] {
  const chosen = items.filter(picked);
  const rest = items.filter((item) => !picked(item));
  if (chosen.length === 0 || rest.length === 0) return [...items];
  const every = rest.length / chosen.length;
  const out: T[] = [];
  let next = 0;
  rest.forEach((item, i) => {
    while (next < chosen.length && i >= Math.floor((next + 0.5) * every)) out.push(chosen[next++]!);
    out.push(item);
  });
  out.push(...chosen.slice(next));
  return out;
}
