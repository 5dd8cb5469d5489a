import { useEffect, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { plotValue, sum } from './format';
import { Table } from './ui';

export interface ChartSeries {
  label: string;
  /** One decimal string per x label, exactly as the API gave it. */
  values: string[];
}

const COLORS = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];

/**
 * A bar chart (stacked when there are several series) drawn by uPlot, with its figures in a table
 * beneath: the chart's numbers are floats for drawing only, the table shows the API's strings.
 */
export function BarChart({
  title,
  xLabel,
  x,
  series,
  unit,
  totals = true,
  after,
}: {
  title: string;
  xLabel: string;
  x: string[];
  series: ChartSeries[];
  unit: string;
  totals?: boolean;
  after?: ReactNode;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el || x.length === 0 || series.length === 0) return;
    // Stack: series i is drawn at the sum of series 0..i; the tallest is drawn first so each
    // shorter one paints over it.
    const stacked: number[][] = [];
    series.forEach((s, i) => {
      stacked.push(s.values.map((v, j) => plotValue(v) + (i > 0 ? stacked[i - 1][j] : 0)));
    });
    const order = series.map((_, i) => i).reverse();
    const bars = uPlot.paths.bars!({ size: [0.6, 64] });
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] } },
        axes: [
          { splits: () => x.map((_, i) => i), values: (_u, ticks) => ticks.map((t) => x[t] ?? ''), grid: { show: false } },
          { label: unit, size: 70 },
        ],
        series: [
          { label: xLabel, value: (_u, v) => (v === null || v === undefined ? '' : (x[v] ?? '')) },
          ...order.map((i) => ({
            label: series[i].label,
            fill: COLORS[i % COLORS.length],
            stroke: COLORS[i % COLORS.length],
            paths: bars,
            points: { show: false },
            value: (_u: uPlot, _v: number | null, _s: number, idx: number | null) => (idx === null ? '' : series[i].values[idx]),
          })),
        ],
      },
      [x.map((_, i) => i), ...order.map((i) => stacked[i])],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, series, unit, xLabel]);

  const showTotal = totals && series.length > 1;
  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {x.length === 0 ? <p className="muted">No figures for this range.</p> : <div ref={host} className="chart-canvas" role="img" aria-label={`${title} (chart)`} />}
      <Table
        caption={`${title}: figures (${unit})`}
        columns={[{ label: xLabel }, ...series.map((s) => ({ label: s.label, num: true })), ...(showTotal ? [{ label: 'Total', num: true }] : [])]}
        rows={x.map((label, j) => [label, ...series.map((s) => s.values[j]), ...(showTotal ? [sum(series.map((s) => s.values[j]))] : [])])}
        footer={x.length > 1 && totals ? ['Total', ...series.map((s) => sum(s.values)), ...(showTotal ? [sum(series.flatMap((s) => s.values))] : [])] : undefined}
      />
      {after}
    </figure>
  );
}
