// Public API for config files and agent modules: `import { ... } from 'openrtc'`.
export { defineConfig } from './config/define-config.js';
export type { AttributionMode, OpenrtcConfigInput, OpenrtcConfig } from './config/schema.js';
export type {
  TenantConfig,
  TenantConfigLoader,
  TenantConfigSource,
  PhoneNumberSource,
} from './tenancy/types.js';
export { currentTenant, tenantProviders } from './session/context-api.js';
export { processLogger as logger } from './logging/process-logger.js';
