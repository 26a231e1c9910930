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
}

export async function topCommand(opts: TopCommandOptions): Promise<number> {
  return runTop({
    ...opts,
    refreshRate: Number(opts.refreshRate),
    color: colorEnabled(process.stdout),
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
