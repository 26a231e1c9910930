import { render } from 'ink';
import { createElement } from 'react';
import { App, type AppProps } from './App.js';
import { enterAlternateScreen } from './screen.js';

export interface LiveViewOptions extends Pick<
  AppProps,
  'source' | 'tenant' | 'sort' | 'status' | 'color'
> {
  stdout: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

/** Draws the live view on the alternate screen until q, Ctrl+C or SIGTERM. */
export async function runLiveView(opts: LiveViewOptions): Promise<void> {
  const { stdout, stdin, ...props } = opts;
  const leaveScreen = enterAlternateScreen(stdout);
  const app = render(createElement(App, props), {
    stdout,
    stdin,
    exitOnCtrlC: true,
    patchConsole: false,
  });
  // A kill ends the view like q does, so the shell's screen is restored.
  const onTerminate = () => app.unmount();
  process.once('SIGTERM', onTerminate);
  try {
    await app.waitUntilExit();
  } finally {
    process.off('SIGTERM', onTerminate);
    leaveScreen();
  }
}
