// Linux /proc readings for a process and everything it forked: what a host's memory and CPU
// graphs would show, rather than what the process says about itself.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process ended between listing and reading
  }
}

/** Resident set size in bytes, or 0 for a process that is gone. */
export function rssBytes(pid: number): number {
  const match = read(`/proc/${pid}/status`)?.match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * Proportional set size in bytes: pages shared between processes (the node binary, shared
 * libraries) split among them, so a tree's total counts them once. 0 for a process that is gone.
 */
export function pssBytes(pid: number): number {
  const match = read(`/proc/${pid}/smaps_rollup`)?.match(/^Pss:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : 0;
}

/** User plus system CPU time in seconds, or 0 for a process that is gone. */
export function cpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** The process and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(`/proc/${entry}/stat`);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** The command line of a process, arguments separated by spaces; empty for a process that is gone. */
export function commandLine(pid: number): string {
  return read(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' ').trim() ?? '';
}

/** The first process of the tree whose command line contains `marker`. */
export function findInTree(root: number, marker: string): number | undefined {
  return processTree(root).find((pid) => commandLine(pid).includes(marker));
}

export interface TreeReading {
  processes: number;
  rssBytes: number;
  pssBytes: number;
  cpuSeconds: number;
}

export function readTree(root: number): TreeReading {
  const pids = processTree(root);
  let rss = 0;
  let pss = 0;
  let cpu = 0;
  for (const pid of pids) {
    rss += rssBytes(pid);
    pss += pssBytes(pid);
    cpu += cpuSeconds(pid);
  }
  return { processes: pids.length, rssBytes: rss, pssBytes: pss, cpuSeconds: cpu };
}
