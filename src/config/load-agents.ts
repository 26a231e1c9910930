import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { isAgent, type AgentDefinition } from '@livekit/agents';
import { describeError } from '../errors/describe-error.js';
import { ConfigError } from './config-error.js';
import { ensureTypeScriptLoader } from './typescript-loader.js';

/**
 * Imports each agent module once, through the process's normal module graph, so agent code and
 * the runtime share one instance of `openrtc` (and therefore one session scope).
 */
export async function loadAgents(
  configFile: string,
  entries: Record<string, string | AgentDefinition>,
): Promise<Record<string, AgentDefinition>> {
  // Jobs name their agent; a plain {} would answer "constructor" with a built-in.
  const agents = Object.create(null) as Record<string, AgentDefinition>;
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (typeof entry !== 'string') {
      agents[name] = entry;
      continue;
    }
    if (!existsSync(entry)) {
      problems.push(`agents.${name}: module not found: ${entry}`);
      continue;
    }
    try {
      await ensureTypeScriptLoader(entry);
      const mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
      const candidate = isAgent(mod.default)
        ? mod.default
        : (mod.default as { default?: unknown } | undefined)?.default;
      if (!isAgent(candidate)) {
        problems.push(
          `agents.${name}: ${entry} has no default export made with defineAgent({ entry })`,
        );
        continue;
      }
      agents[name] = candidate;
    } catch (err) {
      problems.push(`agents.${name}: could not load ${entry}: ${describeError(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(configFile, problems);
  return agents;
}
