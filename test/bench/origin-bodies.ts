// The origin's fixed answers, one per path; both origins (nginx and the node:http fallback) serve
// exactly these, and any other path gets the first.

export const ORIGIN_BODIES = [
  { path: '/', bytes: 100 },
  { path: '/64k', bytes: 64 * 1024 },
  { path: '/1m', bytes: 1024 * 1024 },
] as const;
