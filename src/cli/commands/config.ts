import path from 'node:path';
import type { ConfigReload } from '../../config/config-diff.js';
import { callWorker, runCommand } from '../worker-connection.js';

/** What a reload did, in lines an operator can act on; never "nothing changed" unless that is known. */
export function describeReload(r: ConfigReload): string[] {
  const [file, ...imports] = r.files.map((f) => path.basename(f));
  const read = imports.length
    ? `${file} and the ${imports.length} project file${imports.length === 1 ? '' : 's'} it imports (${imports.join(', ')})`
    : `${file}`;
  const lines = [
    `config reloaded from ${read}; ${r.changed.length ? `changed: ${r.changed.join(', ')}` : 'no setting changed'}`,
  ];
  for (const setting of r.notCompared) {
    lines.push(
      `${setting}: replaced by the new file's; what it holds (a function or provider objects) cannot be compared, so cached tenant configs were dropped`,
    );
  }
  if (!r.wholeGraph)
    lines.push(
      `only ${file} was re-read: files it imports keep the version read at start (restart the worker to apply changes there)`,
    );
  for (const setting of r.needsRestart)
    lines.push(
      `${setting} changed, which takes effect only after a restart (openrtc drain, then start)`,
    );
  return lines;
}

export const configReload = (opts: { socket?: string }) =>
  runCommand(async () => {
    const result = await callWorker(opts.socket, 'config.reload');
    process.stdout.write(`${describeReload(result).join('\n')}\n`);
  });
