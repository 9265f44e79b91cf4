import { Knex } from 'knex';
import { localDayStart, WholeDays } from './days';
import type { TimeWindow } from './metrics';

/** A day's figures as read when the day had `version`; none when it had nothing to count. */
interface KeptDay<T> {
  version: number;
  value?: T;
}

/** The versions of the days `first` to `last` that writes have touched (see the day_versions migration). */
export async function dayVersions(
  knex: Knex,
  { first, last }: WholeDays,
): Promise<Map<number, number>> {
  const rows = await knex('dora_day_versions')
    .whereBetween('day', [first, last])
    .select('day', 'version');
  return new Map(rows.map(row => [Number(row.day), Number(row.version)]));
}

/**
 * Per-day figures of whole local days, kept per scope with the version each day had when they were
 * read: a summary reads again only the days whose version a write has moved since, and the partial
 * days at its window's edges. Every replica reads the versions from the database, so a write from
 * anywhere is seen by the next summary. Past `maxSize`, the scope used longest ago goes first.
 */
export class KeptDays<T> {
  private readonly scopes = new Map<string, Map<number, KeptDay<T>>>();
  private keptSize = 0;

  /**
   * `maxSize` counts each kept day as one, and the values `sizeOf` counts in it besides: a day with
   * nothing to count is kept too, with its version.
   */
  constructor(
    private readonly options: {
      timeZone: string;
      maxSize: number;
      sizeOf?: (value: T) => number;
    },
  ) {}

  /**
   * The figures of each day of `window` that has any. `read(ranges)` reads them per local day;
   * `versions` are the whole days' versions, read before any figure.
   */
  async figures(
    scopeKey: string,
    window: TimeWindow,
    split: WholeDays | undefined,
    versions: Promise<Map<number, number>>,
    read: (ranges: TimeWindow[]) => Promise<Map<number, T>>,
  ): Promise<Map<number, T>> {
    if (!split) return read([window]);
    const current = await versions;
    const versionOf = (day: number) => current.get(day) ?? 0;
    const kept = this.scopes.get(scopeKey);
    const result = new Map<number, T>();
    const stale: number[] = [];
    for (let day = split.first; day <= split.last; day++) {
      const known = kept?.get(day);
      if (known?.version !== versionOf(day)) stale.push(day);
      else if (known.value !== undefined) result.set(day, known.value);
    }
    const start = (day: number) => localDayStart(day, this.options.timeZone);
    const ranges = [
      ...split.edges,
      ...runsOf(stale).map(([from, to]) => ({
        from: start(from),
        to: start(to + 1),
      })),
    ];
    // A window of whole days, all of them kept, has nothing to read.
    const fresh = ranges.length > 0 ? await read(ranges) : new Map<number, T>();
    for (const [day, value] of fresh) result.set(day, value);
    this.keep(
      scopeKey,
      stale.map(day => [
        day,
        { version: versionOf(day), value: fresh.get(day) },
      ]),
    );
    return result;
  }

  /** Keeps a scope's days read afresh; the scope becomes the one used last. */
  private keep(scopeKey: string, days: [number, KeptDay<T>][]) {
    const kept = this.scopes.get(scopeKey) ?? new Map<number, KeptDay<T>>();
    this.scopes.delete(scopeKey);
    this.scopes.set(scopeKey, kept);
    for (const [day, value] of days) {
      this.keptSize += this.size(value) - this.size(kept.get(day));
      kept.set(day, value);
    }
    for (const [key, scope] of this.scopes) {
      if (this.keptSize <= this.options.maxSize || key === scopeKey) break;
      for (const dropped of scope.values()) this.keptSize -= this.size(dropped);
      this.scopes.delete(key);
    }
  }

  private size(day?: KeptDay<T>) {
    if (!day) return 0;
    return (
      1 + (day.value === undefined ? 0 : this.options.sizeOf?.(day.value) ?? 0)
    );
  }
}

/** Consecutive days as [first, last] runs. */
function runsOf(days: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const day of days) {
    const last = runs[runs.length - 1];
    if (last && last[1] === day - 1) last[1] = day;
    else runs.push([day, day]);
  }
  return runs;
}
