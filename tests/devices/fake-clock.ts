/** A virtual clock the test moves by hand, and a timer queue on it. */
import { TimerQueue, VirtualClock } from '../../src/machine/clock.js';

export class FakeClock extends VirtualClock {
  t = 0;
  override now(): number {
    return this.t;
  }
}

export function fakeTime() {
  const clock = new FakeClock();
  const timers = new TimerQueue(clock);
  /** Moves guest time forward by `ns`, in steps of at most `step`, running timers as they fall due. */
  const advance = (ns: number, step = ns) => {
    const end = clock.t + ns;
    while (clock.t < end) {
      clock.t = Math.min(end, clock.t + step);
      timers.runExpired(clock.t);
    }
  };
  return { clock, timers, advance };
}
