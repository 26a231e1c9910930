// Module hook for a checkout running its sources: resolves `import 'openrtc'` (from the demo
// config, the examples and test fixtures) through the `openrtc-source` export condition, so it
// reaches src/ (the code running) rather than dist/ (absent in a fresh clone, or older).
export const SOURCE_CONDITION = 'openrtc-source';

/** @type {import('node:module').ResolveHook} */
export async function resolve(specifier, context, next) {
  if (context.conditions.includes(SOURCE_CONDITION)) return next(specifier, context);
  return next(specifier, { ...context, conditions: [...context.conditions, SOURCE_CONDITION] });
}
