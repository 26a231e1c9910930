import { runTop } from '../../top/run-top.js';
import { colorEnabled } from '../color.js';

export interface TopCommandOptions {
  socket?: string;
  tenant?: string;
  sort?: string;
  status?: string;
  refreshRate: string;
  once?: boolean;
  json?: boolean;
  fleet?: boolean;
  redis?: string;
  keyPrefix?: string;
}

export async function topCommand(opts: TopCommandOptions): Promise<number> {
  if (opts.fleet) return (await import('./fleet-top.js')).fleetTopCommand(opts);
  return runTop({
    ...opts,
    refreshRate: Number(opts.refreshRate),
    color: colorEnabled(process.stdout),
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
