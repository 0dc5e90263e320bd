// Client keys as the gateway makes them: dotted IPv4 text, a flat string of its own per client.

/** The key of client `n` (0 ≤ n < 2^24): 10.x.y.z. */
export function clientKey(n: number): string {
  // join() gives a flat string, as ipaddr.js's toString does; a template literal would leave a
  // cons string that the first hash lookup flattens into a second copy, inflating the figures.
  return [10, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
