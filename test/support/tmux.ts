import { execFileSync, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './dev-worker.js';

export const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/**
 * A real terminal of a known size: a detached tmux session running one shell command. The screen
 * is read back as text (`capture-pane`), with the escape codes of its styles when asked.
 */
export class TmuxPane {
  constructor(readonly name: string) {}

  /**
   * Starts `command` (a shell line) in a fresh pane. CI variables are removed for the whole line:
   * colour detection turns off when `CI` is set at all, and a person's terminal is not CI. The tmux
   * server keeps the environment of whichever test started it, so `-e` alone cannot remove them.
   */
  static start(
    name: string,
    command: string,
    opts: { columns: number; rows: number; env?: Record<string, string> },
  ): TmuxPane {
    const env = { TERM: 'xterm-256color', ...opts.env };
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const args = [
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(opts.columns),
      '-y',
      String(opts.rows),
      ...envArgs,
      '-c',
      REPO_ROOT,
      `unset CI CONTINUOUS_INTEGRATION; ${command}; echo EXITED=$?; sleep 120`,
    ];
    // Test files run in parallel: when another one kills the last session, the tmux server exits
    // while this one connects to it. A fresh server on the next try is fine.
    for (let attempt = 1; ; attempt++) {
      try {
        execFileSync('tmux', args, { stdio: ['ignore', 'ignore', 'pipe'] });
        return new TmuxPane(name);
      } catch (err) {
        if (
          attempt >= 3 ||
          !/server exited unexpectedly/.test(String((err as { stderr?: unknown }).stderr ?? err))
        )
          throw err;
      }
    }
  }

  screen(opts: { escapes?: boolean } = {}): string {
    return execFileSync(
      'tmux',
      ['capture-pane', '-p', ...(opts.escapes ? ['-e'] : []), '-t', this.name],
      { encoding: 'utf8' },
    );
  }

  lines(): string[] {
    return this.screen().replace(/\n$/, '').split('\n');
  }

  get alternateScreen(): boolean {
    return (
      execFileSync('tmux', ['display', '-p', '-t', this.name, '#{alternate_on}'], {
        encoding: 'utf8',
      }).trim() === '1'
    );
  }

  keys(...keys: string[]): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, ...keys]);
  }

  resize(columns: number, rows: number): void {
    execFileSync('tmux', [
      'resize-window',
      '-t',
      this.name,
      '-x',
      String(columns),
      '-y',
      String(rows),
    ]);
  }

  async waitFor(
    predicate: (screen: string) => boolean,
    what: string,
    opts: { escapes?: boolean; timeoutMs?: number } = {},
  ): Promise<string> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen(opts);
      if (predicate(last)) return last;
      await sleep(100);
    }
    throw new Error(`${what} never appeared on screen:\n${last}`);
  }

  kill(): void {
    spawnSync('tmux', ['kill-session', '-t', this.name]);
  }
}
