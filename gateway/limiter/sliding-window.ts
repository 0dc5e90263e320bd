// Sliding-window counting with two fixed buckets (the current and the previous window), weighted
// by how much of the previous window still overlaps the sliding one. Constant memory per counter,
// and exact for a burst that starts from an idle client: request limit+1 is the first over.

/** The mutable state of one counter. */
export interface WindowCounter {
  /** Start (epoch ms) of the bucket `current` counts into. */
  start: number;
  current: number;
  previous: number;
}

/** A counter that has counted nothing yet. */
export function emptyCounter(): WindowCounter {
  return { start: -Infinity, current: 0, previous: 0 };
}

/** Adds one hit at `nowMs` to `counter` (in place) and returns its sliding count. */
export function addHit(counter: WindowCounter, windowMs: number, nowMs: number): number {
  const start = nowMs - (nowMs % windowMs);
  if (counter.start !== start) {
    counter.previous = counter.start === start - windowMs ? counter.current : 0;
    counter.current = 0;
    counter.start = start;
  }
  counter.current += 1;
  return slidingCount(counter, windowMs, nowMs);
}

/**
 * The previous bucket counts in proportion to its overlap with the window ending at `nowMs`. Not
 * rounded: a burst that straddles a bucket boundary must still find its request limit+1 over the
 * limit (limit+1 - ε), where flooring would let it through.
 */
export function slidingCount(counter: WindowCounter, windowMs: number, nowMs: number): number {
  const overlap = 1 - (nowMs - counter.start) / windowMs;
  return counter.current + counter.previous * overlap;
}
