import { callWorker, runCommand } from '../worker-connection.js';

export const configReload = (opts: { socket?: string }) =>
  runCommand(async () => {
    const result = (await callWorker(opts.socket, 'config.reload')) as { changed: string[] };
    process.stdout.write(
      result.changed.length ? `config reloaded; changed: ${result.changed.join(', ')}\n` : 'config reloaded; nothing changed\n',
    );
  });
