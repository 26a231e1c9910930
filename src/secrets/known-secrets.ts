/**
 * Secret values this process knows: the string values held under secret-looking names in the
 * provider objects of every tenant config it resolved, the LiveKit credentials, and environment
 * variables with secret-looking names. Whatever text leaves the process (log lines, error
 * messages, snapshot events, control answers) has these masked, so a key without a known prefix
 * or label is still caught: the worker does not have to guess from patterns.
 */

/** Shorter values are not masked by value: they cannot be told apart from ordinary words. */
export const MIN_SECRET_CHARS = 8;
/** Values remembered at most; the oldest are forgotten first. */
export const MAX_KNOWN_SECRETS = 4_096;
export const REDACTED = '[redacted]';

/** Field names whose values are secrets: `apiKey`, `api_key`, `x-api-key`, `clientSecret`, `token`, `Authorization`, … */
const SECRET_NAME =
  /(key|secret|token|password|passwd|pwd|credentials?|authorization|auth|cookie|signature)$/i;
const SECRET_ENV_NAME =
  /(API_?KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY|ACCESS_KEY)/i;
/** Strings that look like credentials wherever they sit. */
const CREDENTIAL_SHAPE =
  /^(?:(?:sk|pk|rk)-[A-Za-z0-9_-]{6,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_.-]+|[A-Za-z0-9+/_-]{32,}={0,2})$/;
const AUTH_SCHEME = /^(?:Bearer|Basic|Token)\s+(\S+)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

const PREFIX = MIN_SECRET_CHARS;

export class KnownSecrets {
  /** Insertion order is age: the oldest go first when the set is full. */
  readonly #values = new Set<string>();
  /** Values by their first characters, so masking scans text once instead of once per value. */
  readonly #byPrefix = new Map<string, string[]>();

  get size(): number {
    return this.#values.size;
  }

  add(value: string): void {
    if (value.length < MIN_SECRET_CHARS || this.#values.has(value)) return;
    if (this.#values.size >= MAX_KNOWN_SECRETS) this.#forget(this.#values.values().next().value!);
    this.#values.add(value);
    const prefix = value.slice(0, PREFIX);
    const list = this.#byPrefix.get(prefix) ?? [];
    list.push(value);
    // Longest first: a value that extends another is masked whole.
    list.sort((a, b) => b.length - a.length);
    this.#byPrefix.set(prefix, list);
  }

  #forget(value: string): void {
    this.#values.delete(value);
    const prefix = value.slice(0, PREFIX);
    const list = this.#byPrefix.get(prefix)?.filter((v) => v !== value);
    if (list?.length) this.#byPrefix.set(prefix, list);
    else this.#byPrefix.delete(prefix);
  }

  /** `text` with every known value replaced by `[redacted]`. */
  mask(text: string): string {
    if (this.#values.size === 0 || text.length < MIN_SECRET_CHARS) return text;
    let out: string[] | undefined;
    let copied = 0;
    for (let i = 0; i + PREFIX <= text.length;) {
      const candidates = this.#byPrefix.get(text.slice(i, i + PREFIX));
      const hit = candidates?.find((v) => text.startsWith(v, i));
      if (!hit) {
        i += 1;
        continue;
      }
      out ??= [];
      out.push(text.slice(copied, i), REDACTED);
      i += hit.length;
      copied = i;
    }
    if (!out) return text;
    out.push(text.slice(copied));
    return out.join('');
  }

  /** Remembers a string that is a secret, and the credential inside an `Authorization` value. */
  addSecret(value: string): void {
    this.add(value);
    const scheme = AUTH_SCHEME.exec(value);
    if (scheme) this.add(scheme[1]!);
  }

  /**
   * Walks an object (a provider, a tenant config) and remembers the strings held under secret
   * names, and strings shaped like credentials anywhere. Bounded in depth and size, and safe on
   * cycles; JavaScript private fields (`#field`) cannot be read, which is why secret-named
   * environment variables are remembered as well.
   */
  collect(root: unknown): void {
    const seen = new WeakSet<object>();
    let budget = COLLECT_NODES;
    const walk = (value: unknown, secretName: boolean, depth: number): void => {
      if (budget-- <= 0) return;
      if (typeof value === 'string') {
        if (secretName || CREDENTIAL_SHAPE.test(value) || AUTH_SCHEME.test(value))
          this.addSecret(value);
        return;
      }
      if (typeof value !== 'object' || value === null || depth > COLLECT_DEPTH || seen.has(value))
        return;
      seen.add(value);
      if (value instanceof Map) {
        for (const [k, v] of value)
          walk(v, secretName || (typeof k === 'string' && isSecretName(k)), depth + 1);
        return;
      }
      for (const key of Object.keys(value)) {
        let child: unknown;
        try {
          child = (value as Record<string, unknown>)[key];
        } catch {
          continue; // a throwing getter
        }
        walk(child, secretName || isSecretName(key), depth + 1);
      }
    };
    walk(root, false, 0);
  }

  /** Remembers the values of environment variables whose names look like secrets. */
  collectEnv(env: NodeJS.ProcessEnv): void {
    for (const [name, value] of Object.entries(env))
      if (value && SECRET_ENV_NAME.test(name)) this.addSecret(value);
  }
}

const COLLECT_DEPTH = 8;
const COLLECT_NODES = 2_000;

/** The process's one set: logs, errors, events and control answers all mask with it. */
export const knownSecrets = new KnownSecrets();

const providers = new WeakSet<object>();

/** Provider objects of resolved tenant configs: a log line shows a placeholder for them, never their fields. */
export function rememberProviders(objects: Iterable<object | undefined>): void {
  for (const o of objects) if (o) providers.add(o);
}

/** Base classes of agents-js providers, recognised by name so this module need not load agents-js. */
const PROVIDER_CLASSES = new Set(['LLM', 'STT', 'TTS', 'RealtimeModel', 'VAD']);

/** A provider object: one of a tenant config's, or an instance of an agents-js provider class. */
export function providerLabel(value: object): string | undefined {
  let known = providers.has(value);
  for (
    let proto = Object.getPrototypeOf(value) as object | null;
    !known && proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string' && PROVIDER_CLASSES.has(ctor.name)) known = true;
  }
  if (!known) return undefined;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return `[provider ${typeof name === 'string' && name ? name : 'object'}]`;
}
