import { percentiles } from './leadTimes';

/** percentile_cont as PostgreSQL computes it, over a sorted copy. */
function bySorting(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
}

describe('percentiles', () => {
  it('selects what percentile_cont interpolates, over several arrays, with ties', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (const length of [1, 2, 3, 10, 101, 5000]) {
      const arrays = [0, 1, 2].map(
        () =>
          new Float64Array(
            Array.from({ length }, () => 1 + Math.floor(random() * length)),
          ),
      );
      const all = arrays.flatMap(a => [...a]);
      expect(percentiles(arrays, 4)).toEqual({
        count: all.length,
        nonPositive: 4,
        p50: bySorting(all, 0.5),
        p90: bySorting(all, 0.9),
      });
    }
  });

  it('has no percentiles without values', () => {
    expect(percentiles([new Float64Array(0)], 2)).toEqual({
      count: 0,
      nonPositive: 2,
    });
  });
});
