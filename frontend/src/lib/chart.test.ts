import { describe, expect, it } from 'vitest';
import { areaPath, chartWindowDue, linear, linePath, nearestIndex, niceMax, sumSeries, timeTicks, totals } from './chart';

describe('chart maths', () => {
  it('niceMax rounds up to 1/2/5 steps in binary units', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(150)).toBe(200);
    expect(niceMax(1000)).toBe(1000);
    expect(niceMax(1500)).toBe(2 * 1024);
    expect(niceMax(3 * 1024 * 1024)).toBe(5 * 1024 * 1024);
    expect(niceMax(1024 * 1024)).toBe(1024 * 1024);
  });

  it('sums series bucket by bucket, sorted', () => {
    const s = sumSeries([
      [
        { timestamp: 7200, rx_bytes: 1, tx_bytes: 2 },
        { timestamp: 3600, rx_bytes: 10, tx_bytes: 20 },
      ],
      [{ timestamp: 3600, rx_bytes: 5, tx_bytes: 5 }],
    ]);
    expect(s).toEqual([
      { timestamp: 3600, rx_bytes: 15, tx_bytes: 25 },
      { timestamp: 7200, rx_bytes: 1, tx_bytes: 2 },
    ]);
  });

  it('totals and the busiest bucket', () => {
    const t = totals([
      { timestamp: 1, rx_bytes: 1, tx_bytes: 1 },
      { timestamp: 2, rx_bytes: 5, tx_bytes: 0 },
    ]);
    expect(t).toEqual({ rx: 6, tx: 1, peak: { timestamp: 2, rx_bytes: 5, tx_bytes: 0 } });
    expect(totals([]).peak).toBeNull();
  });

  it('paths', () => {
    const x = linear(0, 10, 0, 100);
    const y = linear(0, 10, 100, 0);
    expect(x(5)).toBe(50);
    expect(y(10)).toBe(0);
    expect(linePath([{ t: 0, v: 0 }, { t: 10, v: 10 }], x, y)).toBe('M0,100L100,0');
    expect(areaPath([{ t: 0, v: 5 }, { t: 10, v: 5 }], x, y, 100)).toBe('M0,100L0,50L100,50L100,100Z');
    expect(areaPath([], x, y, 100)).toBe('');
  });

  it('time ticks land on whole hours', () => {
    const ticks = timeTicks(3600 * 10 + 123, 3600 * 34, 6);
    expect(ticks.length).toBeLessThanOrEqual(7);
    expect(ticks.every((t) => t % 3600 === 0)).toBe(true);
    expect(timeTicks(10, 5, 4)).toEqual([]);
  });

  it('nearestIndex', () => {
    const s = [0, 10, 20, 30].map((timestamp) => ({ timestamp, rx_bytes: 0, tx_bytes: 0 }));
    expect(nearestIndex(s, -5)).toBe(0);
    expect(nearestIndex(s, 14)).toBe(1);
    expect(nearestIndex(s, 16)).toBe(2);
    expect(nearestIndex(s, 99)).toBe(3);
    expect(nearestIndex([], 5)).toBe(-1);
  });

  it('moves a live chart window only after new traffic, at most once a minute', () => {
    expect(chartWindowDue(100, 100, 1000, 5000)).toBe(false); // no new bytes
    expect(chartWindowDue(100, 150, 1000, 1059)).toBe(false); // too soon
    expect(chartWindowDue(100, 150, 1000, 1060)).toBe(true);
    expect(chartWindowDue(500, 20, 1000, 5000)).toBe(false); // counters reset (interface restarted)
  });
});
