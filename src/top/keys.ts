/** Every key the live view answers to, as the help overlay lists them. */
export const KEY_BINDINGS: readonly { keys: string; does: string }[] = [
  { keys: '? h', does: 'show or hide this help (Esc closes it too)' },
  { keys: 'q Ctrl+C', does: 'quit' },
  { keys: 's', does: 'sort sessions by the next key: age, cpu, tenant, status, agent' },
  { keys: 'f', does: 'show sessions in the next status: all, starting, running, closing' },
  { keys: 't', does: 'show the next tenant: all, then each tenant in turn' },
  { keys: '↑ ↓', does: 'scroll the sessions by one line' },
  { keys: 'PgUp PgDn', does: 'scroll the sessions by one page' },
  { keys: 'Home End', does: 'go to the first or the last session' },
];

/** The footer: the keys most used, and where the rest are. */
export const KEY_HINT = '? help  q quit  s sort  f status  t tenant  ↑↓ PgUp PgDn scroll';
