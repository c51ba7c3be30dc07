// When an open page reads its rows again after the live streams said they changed
// (useReloadOnChange). Pure, with the timers handed in, so it is tested without a DOM.
//
// A throttle, not a debounce: the first change arms one timer; changes while it is
// pending join it (the timer is not restarted), and when it fires the page reads
// everything counted so far. So a burst of changes costs one read per `delay`, and an
// open page is at most `delay` (plus one read) behind however long the burst lasts;
// a debounce would keep it stale until the burst stops. Never while a load is in
// flight (`busy`): the pending timer is dropped, and a change counted during the load
// arms a new one when it ends.

export interface Timers {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

export class ReloadThrottle {
  private handled: number;
  private latest: number;
  private timer: unknown = null;

  /** `count`: the change count the page's data already reflects (when it mounts). */
  constructor(
    count: number,
    private readonly reload: () => void,
    private readonly delay: number,
    private readonly timers: Timers,
  ) {
    this.handled = count;
    this.latest = count;
  }

  /** The page's change count now, and whether it is loading. */
  update(count: number, busy: boolean): void {
    this.latest = count;
    if (busy) {
      this.cancel();
      return;
    }
    if (count === this.handled || this.timer !== null) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.handled = this.latest;
      this.reload();
    }, this.delay);
  }

  /** The page unmounts: nothing fires after. */
  dispose(): void {
    this.cancel();
  }

  private cancel(): void {
    if (this.timer === null) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
