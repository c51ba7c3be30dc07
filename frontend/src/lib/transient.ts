// A value that falls back to its idle value a while after it was set (a "Copied ✓"
// confirmation; useTransient). Pure, timers handed in. A new set replaces the pending
// fallback, so it never cuts a later confirmation short; dispose (unmount) cancels it,
// so nothing updates a component that is gone.

import type { Timers } from './reload';

export class Transient<T> {
  private timer: unknown = null;

  constructor(
    private readonly idle: T,
    private readonly ms: number,
    private readonly show: (value: T) => void,
    private readonly timers: Timers,
  ) {}

  set(value: T): void {
    this.show(value);
    this.dispose();
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.show(this.idle);
    }, this.ms);
  }

  dispose(): void {
    if (this.timer === null) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
