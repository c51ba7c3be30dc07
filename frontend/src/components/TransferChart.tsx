// Transfer over time as two areas (received / sent, seen from the server).
// Plain SVG sized to its container; arrow keys move the read-out.

import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { areaPath, linePath, linear, nearestIndex, niceMax, timeTicks, totals } from '../lib/chart';
import { formatBytes, formatDateTime, formatTime, formatDate } from '../lib/format';
import type { StatsPoint } from '../lib/types';

interface Props {
  series: StatsPoint[];
  from: number;
  to: number;
  height?: number;
  label: string;
}

const PAD = { top: 12, right: 12, bottom: 26, left: 64 };

export function TransferChart({ series, from, to, height = 200, label }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(600);
  const [sel, setSel] = useState<number>(-1);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(240, Math.floor(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const { rx, tx, peak } = useMemo(() => totals(series), [series]);
  // The API zero-fills every bucket: a window without traffic is all zeros, not empty.
  const quiet = rx + tx === 0;
  // At least 2 B so the half-way gridline is a whole byte.
  const max = useMemo(() => niceMax(Math.max(2, series.reduce((m, p) => Math.max(m, p.rx_bytes, p.tx_bytes), 0))), [series]);
  const x = linear(from, to, PAD.left, width - PAD.right);
  const y = linear(0, max, height - PAD.bottom, PAD.top);
  const rxPts = series.map((p) => ({ t: p.timestamp, v: p.rx_bytes }));
  const txPts = series.map((p) => ({ t: p.timestamp, v: p.tx_bytes }));
  const ticks = timeTicks(from, to, Math.max(2, Math.floor((width - PAD.left) / 90)));
  const multiDay = to - from > 36 * 3600;
  const current = sel >= 0 ? series[sel] : undefined;

  const summary = quiet
    ? `${label}: no traffic recorded`
    : `${label}: received ${formatBytes(rx)}, sent ${formatBytes(tx)}` + (peak ? `; busiest ${formatDateTime(peak.timestamp)}` : '');

  const onPointer = (e: PointerEvent<SVGSVGElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const t = from + ((e.clientX - rect.left - PAD.left) / (width - PAD.left - PAD.right)) * (to - from);
    setSel(nearestIndex(series, t));
  };
  const onKey = (e: KeyboardEvent<SVGSVGElement>) => {
    if (series.length === 0) return;
    if (e.key === 'ArrowLeft') setSel((s) => (s <= 0 ? series.length - 1 : s - 1));
    else if (e.key === 'ArrowRight') setSel((s) => (s < 0 || s >= series.length - 1 ? 0 : s + 1));
    else if (e.key === 'Escape') setSel(-1);
    else return;
    e.preventDefault();
  };

  return (
    <div className="chart" ref={box}>
      <div className="chart-legend">
        <span className="legend legend-rx">Received {formatBytes(rx)}</span>
        <span className="legend legend-tx">Sent {formatBytes(tx)}</span>
        <span className="chart-readout" aria-live="polite">
          {current ? `${formatDateTime(current.timestamp)} · ↓ ${formatBytes(current.rx_bytes)} · ↑ ${formatBytes(current.tx_bytes)}` : ''}
        </span>
      </div>
      <svg
        width={width}
        height={height}
        role="img"
        aria-label={summary}
        tabIndex={0}
        onPointerMove={onPointer}
        onPointerLeave={() => setSel(-1)}
        onKeyDown={onKey}
        onBlur={() => setSel(-1)}
      >
        {(quiet ? [0] : [0, 0.5, 1]).map((f) => (
          <g key={f}>
            <line className="chart-grid" x1={PAD.left} x2={width - PAD.right} y1={y(max * f)} y2={y(max * f)} />
            <text className="chart-axis" x={PAD.left - 6} y={y(max * f) + 4} textAnchor="end">
              {formatBytes(max * f)}
            </text>
          </g>
        ))}
        {ticks.map((t) => (
          <text key={t} className="chart-axis" x={x(t)} y={height - 8} textAnchor="middle">
            {multiDay ? formatDate(t) : formatTime(t)}
          </text>
        ))}
        {!quiet && (
          <>
            <path className="chart-area-rx" d={areaPath(rxPts, x, y, y(0))} />
            <path className="chart-line-rx" d={linePath(rxPts, x, y)} />
            <path className="chart-area-tx" d={areaPath(txPts, x, y, y(0))} />
            <path className="chart-line-tx" d={linePath(txPts, x, y)} />
          </>
        )}
        {current && (
          <g>
            <line className="chart-cursor" x1={x(current.timestamp)} x2={x(current.timestamp)} y1={PAD.top} y2={height - PAD.bottom} />
            <circle className="chart-dot-rx" cx={x(current.timestamp)} cy={y(current.rx_bytes)} r={3.5} />
            <circle className="chart-dot-tx" cx={x(current.timestamp)} cy={y(current.tx_bytes)} r={3.5} />
          </g>
        )}
        {quiet && (
          <text className="chart-empty" x={(width + PAD.left) / 2} y={height / 2} textAnchor="middle">
            No traffic recorded in this period
          </text>
        )}
      </svg>
    </div>
  );
}
