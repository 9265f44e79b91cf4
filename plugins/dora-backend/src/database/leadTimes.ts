import { Knex } from 'knex';
import { localDay, localDayStart, weekOf } from './days';
import { isPostgres, rawRows } from './links';
import type { PositivePercentiles, TimeWindow } from './metrics';

/** The spans of the changes shipped on one local day, in milliseconds. */
interface DayValues {
  /** The count and the sum of the revisions of the day's rows, which any write to them moves. */
  fingerprint: string;
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
 * summary; the days before today rarely change, so each whole day's values are kept per scope, and a
 * summary reads only each day's count and sum of revisions (from the index alone) to tell which days to
 * read again. Partial days at the window's edges are read every time. Every replica checks against the
 * database, so a write from anywhere is seen by the next summary.
 */
export class LeadTimeValues {
  private readonly scopes = new Map<string, Map<number, DayValues>>();
  private cachedValues = 0;

  constructor(private readonly knex: Knex, private readonly timeZone: string) {}

  /** `shipped(range)` is the scope's changes shipped in a time range, as the summary reads them. */
  async figures(
    scopeKey: string,
    window: TimeWindow,
    shipped: (range: TimeWindow) => Knex.QueryBuilder,
  ): Promise<LeadTimeFigures> {
    const days = await this.perDay(scopeKey, window, shipped);
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

  private async perDay(
    scopeKey: string,
    window: TimeWindow,
    shipped: (range: TimeWindow) => Knex.QueryBuilder,
  ): Promise<Map<number, DayValues>> {
    const start = (day: number) => localDayStart(day, this.timeZone);
    const firstDay = localDay(window.from, this.timeZone);
    const lastDay = localDay(window.to - 1, this.timeZone);
    const firstWhole =
      start(firstDay) === window.from ? firstDay : firstDay + 1;
    const lastWhole = start(lastDay + 1) === window.to ? lastDay : lastDay - 1;
    if (firstWhole > lastWhole) return this.read(shipped, [window]);

    const whole = { from: start(firstWhole), to: start(lastWhole + 1) };
    const edges = [
      { from: window.from, to: whole.from },
      { from: whole.to, to: window.to },
    ].filter(range => range.from < range.to);
    const kept = this.scopes.get(scopeKey) ?? new Map<number, DayValues>();
    const [fingerprints, edgeDays] = await Promise.all([
      this.fingerprints(shipped(whole)),
      edges.length > 0 ? this.read(shipped, edges) : new Map(),
    ]);
    const stale = [...fingerprints]
      .filter(
        ([day, fingerprint]) => kept.get(day)?.fingerprint !== fingerprint,
      )
      .map(([day]) => day);
    const fresh =
      stale.length > 0
        ? await this.read(
            shipped,
            runsOf(stale).map(([from, to]) => ({
              from: start(from),
              to: start(to + 1),
            })),
          )
        : new Map<number, DayValues>();
    const result = new Map<number, DayValues>(edgeDays);
    const gone: number[] = [];
    for (let day = firstWhole; day <= lastWhole; day++) {
      const values = fresh.get(day) ?? kept.get(day);
      if (fingerprints.has(day) && values) result.set(day, values);
      else if (kept.has(day)) gone.push(day);
    }
    this.keep(scopeKey, fresh, gone);
    return result;
  }

  /** Each day's count and sum of revisions. */
  private async fingerprints(
    rows: Knex.QueryBuilder,
  ): Promise<Map<number, string>> {
    const found = await this.perShippedDay(rows);
    return new Map(
      found.map((row: Record<string, unknown>) => [
        Number(row.day),
        fingerprintOf(row),
      ]),
    );
  }

  /** `rows` grouped by the local day they shipped, with the day's fingerprint and `columns`. */
  private perShippedDay(rows: Knex.QueryBuilder, ...columns: Knex.Raw[]) {
    return rows
      .select(
        this.knex.raw('c.deployed_day AS day'),
        this.knex.raw('COUNT(*) AS n'),
        this.knex.raw('SUM(c.rev) AS revs'),
        ...columns,
      )
      .groupBy('c.deployed_day');
  }

  /** The values of the days the ranges cover, with their fingerprints, in one statement. */
  private async read(
    shipped: (range: TimeWindow) => Knex.QueryBuilder,
    ranges: TimeWindow[],
  ): Promise<Map<number, DayValues>> {
    const parts = ranges.map(range =>
      this.perShippedDay(
        shipped(range),
        this.knex.raw(
          `${this.concat('c.deployed_at - c.first_commit_at')} AS lead`,
        ),
        this.knex.raw(`${this.concat('c.deployed_at - c.merged_at')} AS merge`),
      ).toSQL(),
    );
    const rows = await rawRows(
      this.knex,
      parts.map(part => part.sql).join(' UNION ALL '),
      parts.flatMap(part => part.bindings),
    );
    const result = new Map<number, DayValues>();
    for (const row of rows) {
      const lead = split(row.lead);
      const merge = split(row.merge);
      result.set(Number(row.day), {
        fingerprint: fingerprintOf(row),
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

  /** Keeps a scope's fresh days and forgets its gone ones; the scope becomes the one used last. */
  private keep(
    scopeKey: string,
    fresh: Map<number, DayValues>,
    gone: number[],
  ) {
    const kept = this.scopes.get(scopeKey) ?? new Map<number, DayValues>();
    this.scopes.delete(scopeKey);
    this.scopes.set(scopeKey, kept);
    for (const day of gone) {
      this.cachedValues -= size(kept.get(day));
      kept.delete(day);
    }
    for (const [day, values] of fresh) {
      this.cachedValues += size(values) - size(kept.get(day));
      kept.set(day, values);
    }
    for (const [key, days] of this.scopes) {
      if (this.cachedValues <= MAX_CACHED_VALUES || key === scopeKey) break;
      for (const dropped of days.values()) this.cachedValues -= size(dropped);
      this.scopes.delete(key);
    }
  }
}

function fingerprintOf(row: Record<string, unknown>) {
  return `${row.n}:${row.revs}`;
}

function size(values?: DayValues) {
  return values ? values.leadTimes.length + values.mergeToDeploy.length : 0;
}

/** Consecutive days as [first, last] runs. */
function runsOf(days: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const day of [...days].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && last[1] === day - 1) last[1] = day;
    else runs.push([day, day]);
  }
  return runs;
}

function split(list: unknown): { positive: Float64Array; nonPositive: number } {
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
