// Read loops that wait for their channel (too many requests unanswered, the
// process-wide budget spent, replies behind), swept every 100 ms: one whose
// wait has lasted through a whole interval is told to watch its peer (a
// small read, to notice it leaving). Short waits, the usual backpressure,
// never are (a read while waiting costs the next read its large buffer),
// and cost two field writes: a loop is listed once, and stays listed while
// it waits now and then.

/** A read loop's waits, as the sweep sees them. */
export class LongWait {
  /** Whether the loop waits now. */
  waiting = false;
  /** The sweep count when its current wait began. */
  since = 0;
  /** Whether the sweep lists it. */
  listed = false;
  /** Starts watching the peer: the wait has lasted. */
  readonly watch: () => void;

  constructor(watch: () => void) {
    this.watch = watch;
  }

  /** The loop begins to wait. */
  begin(): void {
    this.waiting = true;
    this.since = sweeps;
    if (this.listed) return;
    this.listed = true;
    listed.add(this);
    timer ??= setInterval(sweep, INTERVAL);
  }

  /** The loop has stopped for good: unlisted, and the sweep stops if it was the last. */
  stop(): void {
    this.waiting = false;
    if (!this.listed) return;
    this.listed = false;
    listed.delete(this);
    if (listed.size === 0) stopSweeping();
  }
}

/** How often waiting read loops are swept (milliseconds). */
const INTERVAL = 100;

const listed = new Set<LongWait>();
let sweeps = 0;
let timer: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  sweeps++;
  for (const wait of listed) {
    if (!wait.waiting) {
      // Not waiting through a whole interval: listed again when it does.
      wait.listed = false;
      listed.delete(wait);
    } else if (wait.since < sweeps - 1) {
      wait.watch();
    }
  }
  if (listed.size === 0) stopSweeping();
}

function stopSweeping(): void {
  clearInterval(timer);
  timer = undefined;
}
