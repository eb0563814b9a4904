// Time charts drawn by uPlot (canvas; ~50 KB minified, fast with thousands of points), sized to their
// container and redrawn in the current theme's colours. uPlot is loaded when a chart is first shown,
// so the first page does not wait for it.
import type uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { locale } from "./i18n";

export type Series = { label: string; values: number[]; color: string; format: (v: number) => string; axis?: "left" | "right"; bars?: boolean };

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export function TimeChart({ x, series, height = 220, testid }: { x: number[]; series: Series[]; height?: number; testid?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let cleanup = () => {};
    let gone = false;
    import("uplot").then(({ default: UPlot }) => {
      if (!gone) cleanup = draw(UPlot, el);
    });
    return () => { gone = true; cleanup(); };
  }, [x, series, height, document.documentElement.dataset.theme]);
  const draw = (UPlot: typeof uPlot, el: HTMLDivElement) => {
    const grid = { stroke: css("--line"), width: 1 };
    const axis = (side: number, fmt?: (v: number) => string, scale?: string) => ({
      side, scale, stroke: css("--muted"), grid, ticks: grid,
      values: fmt ? (_: uPlot, vals: number[]) => vals.map((v) => (v == null ? "" : fmt(v))) : undefined,
    });
    const right = series.find((s) => s.axis === "right");
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height,
      tzDate: (ts) => new Date(ts * 1000),
      fmtDate: () => (d: Date) => d.toLocaleString(locale(), { month: "short", day: "numeric", hour: "2-digit" }),
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] }, r: { range: (_u, _min, max) => [0, max || 1] } },
      axes: [axis(2), axis(3, series[0]?.format), ...(right ? [axis(1, right.format, "r")] : [])],
      legend: { live: true },
      series: [
        {},
        ...series.map((s) => ({
          label: s.label, stroke: s.color, fill: `${s.color}33`, width: 2, scale: s.axis === "right" ? "r" : "y",
          value: (_u: uPlot, v: number | null) => (v == null ? "—" : s.format(v)),
          paths: s.bars ? UPlot.paths.bars!({ size: [0.7, 40] }) : undefined,
        })),
      ],
    };
    const plot = new UPlot(opts, [x.map((ms) => ms / 1000), ...series.map((s) => s.values)], el);
    const fit = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    fit.observe(el);
    return () => { fit.disconnect(); plot.destroy(); };
  };
  return <div class="chart" ref={box} data-testid={testid} />;
}

/** Horizontal bars of each group's share (the biggest first), drawn with plain elements. */
export function ShareBars({ rows, format, testid }: { rows: { label: string; value: number }[]; format: (v: number) => string; testid?: string }) {
  const max = Math.max(0, ...rows.map((r) => r.value));
  const sorted = [...rows].sort((a, b) => b.value - a.value).slice(0, 10);
  return (
    <div class="share" data-testid={testid}>
      {sorted.map((r) => (
        <div class="share-row">
          <span class="share-label" title={r.label}>{r.label}</span>
          <span class="share-bar"><span style={{ width: `${max ? (100 * r.value) / max : 0}%` }} /></span>
          <span class="share-value">{format(r.value)}</span>
        </div>
      ))}
    </div>
  );
}
