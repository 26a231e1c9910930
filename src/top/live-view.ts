import { render } from 'ink';
import { createElement, type ReactElement } from 'react';
import { App, type AppProps } from './App.js';
import { FleetApp, type FleetAppProps } from './fleet/FleetApp.js';
import { enterAlternateScreen } from './screen.js';

interface Terminal {
  stdout: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

export type LiveViewOptions = Pick<AppProps, 'source' | 'tenant' | 'sort' | 'status' | 'color'> &
  Terminal;

export type FleetLiveViewOptions = Pick<FleetAppProps, 'source' | 'tenant' | 'color'> & Terminal;

/** Draws the live view on the alternate screen until q, Ctrl+C or SIGTERM. */
export async function runLiveView(opts: LiveViewOptions): Promise<void> {
  const { stdout, stdin, ...props } = opts;
  await drawUntilExit(createElement(App, props), { stdout, stdin });
}

/** `top --fleet`: the same screen handling, the fleet's view. */
export async function runFleetLiveView(opts: FleetLiveViewOptions): Promise<void> {
  const { stdout, stdin, ...props } = opts;
  await drawUntilExit(createElement(FleetApp, props), { stdout, stdin });
}

async function drawUntilExit(view: ReactElement, { stdout, stdin }: Terminal): Promise<void> {
  const leaveScreen = enterAlternateScreen(stdout);
  const app = render(view, {
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
