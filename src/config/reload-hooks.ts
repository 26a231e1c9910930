// Module hooks (node:module register) that let a config reload see the config's whole module
// graph. A reload imports the config file with `?openrtc-reload=N`; every file that module graph
// imports gets the same query, so Node evaluates it afresh instead of returning its cached copy.
// Packages (anything in node_modules) and openrtc's own sources keep their one instance, so
// provider classes stay the ones agents-js checks with `instanceof`.
import type { MessagePort } from 'node:worker_threads';

interface HookData {
  port: MessagePort;
  param: string;
  /** URL prefixes never re-evaluated (openrtc's own sources). */
  shared: string[];
}

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type NextResolve = (specifier: string, context: ResolveContext) => Promise<Resolved>;
interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}

let data: HookData | undefined;

export function initialize(init: HookData): void {
  data = init;
  init.port.on('message', (m: { flush?: number }) => {
    // Everything posted before this reply has been posted: the reload's file list is complete.
    if (m.flush !== undefined) init.port.postMessage({ flushed: m.flush });
  });
  init.port.unref();
}

function generationOf(url: string | undefined, param: string): string | undefined {
  if (!url?.startsWith('file:')) return undefined;
  return new URL(url).searchParams.get(param) ?? undefined;
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<Resolved> {
  const result = await next(specifier, context);
  if (!data || !result.url.startsWith('file:')) return result;
  const own = generationOf(result.url, data.param);
  if (own !== undefined) {
    data.port.postMessage({ generation: Number(own), url: result.url });
    return result;
  }
  const inherited = generationOf(context.parentURL, data.param);
  if (inherited === undefined) return result;
  if (
    result.url.includes('/node_modules/') ||
    data.shared.some((prefix) => result.url.startsWith(prefix))
  )
    return result;
  const url = new URL(result.url);
  url.searchParams.set(data.param, inherited);
  data.port.postMessage({ generation: Number(inherited), url: url.href });
  return { ...result, url: url.href };
}
