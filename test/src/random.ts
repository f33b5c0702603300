/** A small seeded PRNG so randomized tests are reproducible: TANDEM_TEST_SEED=<n> replays a run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: TANDEM_TEST_SEED when set, else a fixed default so CI is deterministic. */
export function testSeed(fallback = 20261125): number {
  const raw = process.env['TANDEM_TEST_SEED'];
  const seed = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`TANDEM_TEST_SEED must be an integer, got "${raw}"`);
  return seed;
}
