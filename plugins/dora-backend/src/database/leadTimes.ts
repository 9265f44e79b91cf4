import { Knex } from 'knex';
import { weekOf, WholeDays } from './days';
import { KeptDays } from './keptDays';
import { isPostgres, rawRows } from './links';
import type { PositivePercentiles, TimeWindow } from './metrics';

/** The spans of the changes shipped on one local day, in milliseconds. */
interface DayValues {
  /** Deployment finished − first commit, the positive ones. */
  leadTimes: Float64Array;
  leadNonPositive: number;
  /** Deployment finished − merge, the positive ones. */
  mergeToDeploy: Float64Array;
  mergeNonPositive: number;
}

export interface LeadTimeFigures {
  leadTime: PositivePercentiles;
  mergeToDeploy: PositivePercentiles;
  /** The median lead time per Monday-based week (as `weekOf` counts) of the day each change shipped. */
  weeklyLeadTimes: Map<number, { count: number; p50?: number }>;
}

/** About 80 MB of values across every scope; the scope used longest ago goes first. */
const MAX_CACHED_VALUES = 10_000_000;

/**
 * Lead times and merge-to-deploy times, from each whole day's values kept by this backend. Exact
 * percentiles over a quarter of a million changes are a sort that costs more than everything else in a
 * summary; the days before today rarely change, so each whole day's values are kept per scope and read
 * again only once a write has touched the day (`KeptDays`).
 */
export class LeadTimeValues {
  private readonly kept: KeptDays<DayValues>;

  constructor(private readonly knex: Knex, timeZone: string) {
    this.kept = new KeptDays({
      timeZone,
      maxSize: MAX_CACHED_VALUES,
      sizeOf: values => values.leadTimes.length + values.mergeToDeploy.length,
    });
  }

  /**
   * `shipped(range)` is the scope's changes shipped in a time range, as the summary reads them;
   * `versions` are the versions of the window's whole days.
   */
  async figures(
    scopeKey: string,
    window: TimeWindow,
    split: WholeDays | undefined,
    versions: Promise<Map<number, number>>,
    shipped: (range: TimeWindow) => Knex.QueryBuilder,
  ): Promise<LeadTimeFigures> {
    const days = await this.kept.figures(
      scopeKey,
      window,
      split,
      versions,
      ranges => this.read(shipped, ranges),
    );
    const all = [...days.values()];
    const weeks = new Map<number, Float64Array[]>();
    for (const [day, values] of days) {
      const week = weeks.get(weekOf(day)) ?? [];
      week.push(values.leadTimes);
      weeks.set(weekOf(day), week);
    }
    const weeklyLeadTimes = new Map<number, { count: number; p50?: number }>();
    for (const [week, arrays] of weeks) {
      const values = merged(arrays);
      if (values.length > 0) {
        weeklyLeadTimes.set(week, {
          count: values.length,
          p50: percentile(values, 0.5),
        });
      }
    }
    return {
      leadTime: percentiles(
        all.map(d => d.leadTimes),
        sum(all.map(d => d.leadNonPositive)),
      ),
      mergeToDeploy: percentiles(
        all.map(d => d.mergeToDeploy),
        sum(all.map(d => d.mergeNonPositive)),
      ),
      weeklyLeadTimes,
    };
  }

  /** The values of the days the ranges cover, in one statement. */
  private async read(
    shipped: (range: TimeWindow) => Knex.QueryBuilder,
    ranges: TimeWindow[],
  ): Promise<Map<number, DayValues>> {
    const parts = ranges.map(range =>
      shipped(range)
        .select(
          this.knex.raw('c.deployed_day AS day'),
          this.knex.raw(
            `${this.concat('c.deployed_at - c.first_commit_at')} AS lead`,
          ),
          this.knex.raw(
            `${this.concat('c.deployed_at - c.merged_at')} AS merge`,
          ),
        )
        .groupBy('c.deployed_day')
        .toSQL(),
    );
    const rows = await rawRows(
      this.knex,
      parts.map(part => part.sql).join(' UNION ALL '),
      parts.flatMap(part => part.bindings),
    );
    const result = new Map<number, DayValues>();
    for (const row of rows) {
      const lead = splitList(row.lead);
      const merge = splitList(row.merge);
      result.set(Number(row.day), {
        leadTimes: lead.positive,
        leadNonPositive: lead.nonPositive,
        mergeToDeploy: merge.positive,
        mergeNonPositive: merge.nonPositive,
      });
    }
    return result;
  }

  /** A comma-separated list of `expression`'s values (nulls left out). */
  private concat(expression: string) {
    return isPostgres(this.knex)
      ? `string_agg(CAST(${expression} AS TEXT), ',')`
      : `group_concat(${expression})`;
  }
}

function splitList(list: unknown): {
  positive: Float64Array;
  nonPositive: number;
} {
  const values = typeof list === 'string' && list ? list.split(',') : [];
  const positive = new Float64Array(values.length);
  let n = 0;
  for (const value of values) {
    const v = Number(value);
    if (v > 0) positive[n++] = v;
  }
  return { positive: positive.subarray(0, n), nonPositive: values.length - n };
}

function sum(values: number[]) {
  return values.reduce((total, value) => total + value, 0);
}

/**
 * The median and 90th percentile of the values of all `arrays`, interpolated as PostgreSQL's
 * percentile_cont does, by selection rather than a sort.
 */
export function percentiles(
  arrays: Float64Array[],
  nonPositive: number,
): PositivePercentiles {
  const values = merged(arrays);
  if (values.length === 0) return { count: 0, nonPositive };
  return {
    count: values.length,
    nonPositive,
    p90: percentile(values, 0.9),
    p50: percentile(values, 0.5),
  };
}

/** All values of `arrays` in one array of their own, which `percentile` may reorder. */
function merged(arrays: Float64Array[]): Float64Array {
  const values = new Float64Array(sum(arrays.map(a => a.length)));
  let offset = 0;
  for (const array of arrays) {
    values.set(array, offset);
    offset += array.length;
  }
  return values;
}

/** The `p`-th percentile of `values` (at least one), which it reorders, as percentile_cont has it. */
function percentile(values: Float64Array, p: number): number {
  const position = p * (values.length - 1);
  const lower = Math.floor(position);
  const low = select(values, lower);
  if (position === lower) return low;
  // After the selection every value past `lower` is at least `low`: the next is their minimum.
  let high = Infinity;
  for (let i = lower + 1; i < values.length; i++) {
    if (values[i] < high) high = values[i];
  }
  return low + (position - lower) * (high - low);
}

/** The `k`-th smallest (0-based) of `values`, which it reorders around it (Hoare's selection). */
function select(values: Float64Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const swap = values[i];
        values[i] = values[j];
        values[j] = swap;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}
