/**
 * The virtual clock and the timer queue every device schedules on.
 *
 * Guest time follows the host's monotonic clock (QEMU's default), in
 * nanoseconds as a float (exact to well beyond a year of uptime). While the
 * VM is paused the clock stops, so guests see no jump on `cont`.
 */

export interface Timer {
  readonly deadline: number;
  readonly callback: () => void;
}

export class VirtualClock {
  private offset = 0;
  private pausedAt: number | undefined;

  /** Guest nanoseconds since the machine was created. */
  now(): number {
    return (this.pausedAt ?? hostNs()) - this.offset;
  }

  pause(): void {
    if (this.pausedAt === undefined) this.pausedAt = hostNs();
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    this.offset += hostNs() - this.pausedAt;
    this.pausedAt = undefined;
  }

  constructor() {
    this.offset = hostNs();
  }
}

function hostNs(): number {
  return performance.now() * 1e6;
}

/** A deadline-ordered set of one-shot timers on the virtual clock. */
export class TimerQueue {
  private timers: Timer[] = [];

  constructor(readonly clock: VirtualClock) {}

  /** Fires `callback` once the clock reaches `deadline` ns. */
  add(deadline: number, callback: () => void): Timer {
    const timer: Timer = { deadline, callback };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.deadline > deadline) i--;
    this.timers.splice(i, 0, timer);
    return timer;
  }

  cancel(timer: Timer | undefined): void {
    if (!timer) return;
    const i = this.timers.indexOf(timer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Earliest deadline, or Infinity. */
  nextDeadline(): number {
    return this.timers[0]?.deadline ?? Infinity;
  }

  /** Runs every timer whose deadline has passed. Returns how many ran. */
  runExpired(now = this.clock.now()): number {
    let ran = 0;
    while (this.timers.length > 0 && this.timers[0]!.deadline <= now) {
      this.timers.shift()!.callback();
      ran++;
    }
    return ran;
  }
}
