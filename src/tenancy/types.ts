/**
 * What a tenant's config loader returns. Provider slots hold live provider objects (built with
 * that tenant's keys); an omitted slot means "use the agent's default". What keeps their keys out
 * of logs, the snapshot and the socket is masking: each resolved config's secret values and
 * provider objects are remembered (`rememberTenantSecrets`), and every way out masks them.
 */
export interface TenantConfig {
  stt?: object;
  llm?: object;
  tts?: object;
  instructions?: string;
  greeting?: string;
  /** Free-form, non-secret settings for the agent (e.g. voice, language). */
  settings?: Record<string, unknown>;
}

export type TenantConfigLoader = (
  tenant: string,
) => TenantConfig | undefined | Promise<TenantConfig | undefined>;

/** A record of configs, or a callable that loads one tenant's config. */
export type TenantConfigSource = Record<string, TenantConfig> | TenantConfigLoader;

/** Dialed number (E.164 as given) -> tenant id. */
export type PhoneNumberSource =
  | Record<string, string>
  | ((dialedNumber: string) => string | undefined | Promise<string | undefined>);
