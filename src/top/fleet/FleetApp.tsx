import { Box, useApp, useInput, useStdin } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { useTerminalSize } from '../terminal-size.js';
import type { FleetView } from '../../introspection/fleet-view.js';
import { fit } from '../table.js';
import { Line, LineStyleContext } from '../Line.js';
import { fleetBody, fleetHeader, type StyledLine } from './fleet-frame.js';
import type { FleetSource, FleetSourceState } from './fleet-source.js';

export interface FleetAppProps {
  source: FleetSource;
  tenant?: string | undefined;
  /** Terminal size; defaults to the output stream's, else 80×24. */
  width?: number;
  height?: number;
  /** Colours and styles; off under NO_COLOR. */
  color?: boolean;
}

export const FLEET_KEY_HINT = 'q quit  t next tenant (all, then each in turn)';
/** Header, status line and keys: what the body does not get. */
const FIXED_LINES = 4;

function Styled({ line }: { line: StyledLine }) {
  return (
    <Line
      color={line.color}
      bold={line.bold ?? false}
      dim={line.dim ?? false}
      inverse={line.inverse ?? false}
    >
      {line.text}
    </Line>
  );
}

function statusLine(
  state: FleetSourceState,
  view: FleetView | undefined,
  tenant: string | undefined,
) {
  if (state.status === 'unreachable')
    return {
      text: view
        ? `STORE UNREACHABLE: ${state.reason} (last frame, dimmed; retrying)`
        : `cannot reach the fleet store, retrying… (${state.reason})`,
      color: 'red',
      banner: true,
    };
  if (state.status === 'connecting' && !view)
    return { text: 'reading the fleet store…', color: 'cyan', banner: true };
  return { text: `tenant ${tenant ?? 'all'}`, color: 'cyan', banner: false };
}

function nextTenant(view: FleetView | undefined, current: string | undefined): string | undefined {
  const names = view?.tenants.map((t) => t.tenant) ?? [];
  if (names.length === 0) return undefined;
  if (current === undefined) return names[0];
  const i = names.indexOf(current);
  return i === -1 || i === names.length - 1 ? undefined : names[i + 1];
}

/** `openrtc top --fleet`: the fleet's tenants and workers, read from the store, live. */
export function FleetApp(props: FleetAppProps) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const [view, setView] = useState<FleetView | undefined>(undefined);
  const [state, setState] = useState<FleetSourceState>({ status: 'connecting' });
  const [tenant, setTenant] = useState(props.tenant);
  const size = useTerminalSize(props.width, props.height);
  const latest = useRef(view);
  latest.current = view;

  useEffect(() => props.source.subscribe(setView, setState), [props.source]);

  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) return exit();
      if (input === 't') setTenant((t) => nextTenant(latest.current, t));
    },
    { isActive: isRawModeSupported },
  );

  const { width, height } = size;
  const color = props.color ?? true;
  const status = statusLine(state, view, tenant);
  const stale = state.status === 'unreachable';
  const header = view ? fleetHeader(view, width) : [];
  const body = view ? fleetBody(view, { width, tenant, bodyRows: height - FIXED_LINES }) : [];
  const pad = Math.max(0, height - FIXED_LINES - body.length + (view ? 0 : 2));
  return (
    <LineStyleContext.Provider value={{ color, stale: false }}>
      <Box flexDirection="column">
        <LineStyleContext.Provider value={{ color, stale }}>
          {header.map((l, i) => (
            <Styled key={`h-${i}`} line={l} />
          ))}
        </LineStyleContext.Provider>
        <Line bold={status.banner} inverse={status.banner} color={status.color}>
          {fit(status.text, width)}
        </Line>
        <LineStyleContext.Provider value={{ color, stale }}>
          {body.map((l, i) => (
            <Styled key={`b-${i}`} line={l} />
          ))}
          {Array.from({ length: pad }, (_, i) => (
            <Line key={`pad-${i}`}> </Line>
          ))}
        </LineStyleContext.Provider>
        <Line dim>{fit(FLEET_KEY_HINT, width)}</Line>
      </Box>
    </LineStyleContext.Provider>
  );
}
