// The soak's trends as a PNG: Vega-Lite draws the chart as SVG (headless, no canvas), resvg
// renders it to PNG. One small panel per series, against sessions served, ours and stock side by side.
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ChartPoint {
  worker: string;
  series: string;
  sessions: number;
  /** Seconds into the run: the line joins samples in time order. */
  atS: number;
  value: number;
}

export async function renderChart(title: string, points: ChartPoint[]): Promise<Buffer> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: points },
    // A panel's header is its series and, on a second line, each run's growth per 1,000 sessions.
    facet: {
      field: 'series',
      type: 'nominal',
      title: null,
      header: { labelExpr: "split(datum.value, '\\n')", labelFontSize: 11 },
    },
    columns: 3,
    spec: {
      width: 300,
      height: 150,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'sessions', type: 'quantitative', title: 'sessions served' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'worker', type: 'nominal', title: 'worker' },
        order: { field: 'atS', type: 'quantitative' },
      },
    },
    resolve: { scale: { y: 'independent' } },
    background: 'white',
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: 1.5 },
  }).render();
  return png.asPng();
}
