import { Knex } from 'knex';
import {
  DAY_MS,
  localDay,
  localDayStart,
  weekOf,
  weekStartDay,
  wholeDaysOf,
} from './days';
import { isPostgres, rawRows } from './links';
import { dayVersions, KeptDays } from './keptDays';
import { LeadTimeValues } from './leadTimes';

/** Which rows a figure covers; every field set narrows it, none is the organisation. */
export interface ScopeFilter {
  entityRefs?: string[];
  systemRef?: string;
  /** A group and its child groups. */
  ownerRefs?: string[];
}

/** Epoch milliseconds; `to` is exclusive. */
export interface TimeWindow {
  from: number;
  to: number;
}

export interface Percentiles {
  count: number;
  p50?: number;
  p90?: number;
}

/** Percentiles of the positive values, and how many were zero or negative. */
export interface PositivePercentiles extends Percentiles {
  nonPositive: number;
}

/** A duration as the columns it runs between: `end - start`. */
type Span = [start: string, end: string];

/** A Monday-based week of a window in the configured zone, cut to the window. */
interface WeekRange {
  week: number;
  from: number;
  to: number;
}

export interface WeekFigures {
  /** Monday-based week number: (local day + 3) / 7. */
  week: number;
  deployments: number;
  failed: number;
  unplannedFixes: number;
  leadTime: Percentiles;
  recovery: Percentiles;
}

/** The counts and percentiles a summary is made of, in seconds; classification happens elsewhere. */
export interface RawSummary {
  deployments: number;
  failed: number;
  recovered: number;
  unplannedFixes: number;
  deploymentsWithChanges: number;
  /** Distinct deployment days in each 7-day period back from the window's end, oldest first. */
  deployDaysPerWeek: number[];
  /** Likewise per 30-day period. */
  deployDaysPerMonth: number[];
  leadTime: Percentiles;
  mergeToDeploy: Percentiles;
  droppedNonPositive: number;
  recovery: Percentiles;
  incidents: number;
  incidentsLinked: number;
  unattributedEvents: number;
  includesDemoData: boolean;
  weeks: WeekFigures[];
}

/** Deployments of one local day, the unit the frequency, the totals and the weekly counts are made of. */
interface DayCounts {
  day: number;
  deployments: number;
  withChanges: number;
  failed: number;
  recovered: number;
  unplanned: number;
  demo: boolean;
}

export interface ListQuery {
  filter: ScopeFilter;
  window: TimeWindow;
  failedOnly?: boolean;
  limit: number;
  offset: number;
}

const UNPLANNED =
  '(d.unplanned_fix OR d.rollback OR d.fix_of IS NOT NULL OR d.fix_of_external_id IS NOT NULL)';
const SHIPPED = 'd.production AND d.succeeded';
/** PostgreSQL's sort memory for the percentiles: about two million values. */
const SORT_MEMORY = '64MB';
const EMPTY: PositivePercentiles = { count: 0, nonPositive: 0 };
const RECOVERY: Span = ['d.finished_at', 'd.recovered_at'];
/** Days of deployment counts kept across every scope: a few hundred bytes each. */
const KEPT_DEPLOYMENT_DAYS = 200_000;

/** The SQL of the figures: aggregates next to the indexes chosen for them, on PostgreSQL and SQLite. */
export class MetricQueries {
  private readonly leadTimes: LeadTimeValues;
  private readonly deploymentDays: KeptDays<DayCounts>;

  constructor(private readonly knex: Knex, private readonly timeZone: string) {
    this.leadTimes = new LeadTimeValues(knex, timeZone);
    this.deploymentDays = new KeptDays({
      timeZone,
      maxSize: KEPT_DEPLOYMENT_DAYS,
    });
  }

  private get isPostgres() {
    return isPostgres(this.knex);
  }

  /** Successful production deployments of the scope that finished in the window. */
  private shippedDeployments(filter: ScopeFilter, window: TimeWindow) {
    return scoped(this.knex('dora_deployments as d'), filter, 'd')
      .whereRaw(SHIPPED)
      .where('d.finished_at', '>=', window.from)
      .where('d.finished_at', '<', window.to);
  }

  /** Changes of the scope shipped in the window. */
  private shippedChanges(filter: ScopeFilter, window: TimeWindow) {
    return scoped(this.knex('dora_changes as c'), filter, 'c')
      .whereNotNull('c.deployed_at')
      .where('c.deployed_at', '>=', window.from)
      .where('c.deployed_at', '<', window.to);
  }

  /**
   * `end - start` as `v`, grouped by `group` as `g`, for the rows that have both: what
   * `percentilesOf` and SQLite's `rankedPercentiles` read.
   */
  private durations(
    query: Knex.QueryBuilder,
    start: string,
    end: string,
    group = '0',
  ) {
    return query
      .whereNotNull(start)
      .whereNotNull(end)
      .select(
        this.knex.raw(`${group} AS g`),
        this.knex.raw(`${end} - ${start} AS v`),
      );
  }

  async summary(filter: ScopeFilter, window: TimeWindow): Promise<RawSummary> {
    const deployments = () => this.shippedDeployments(filter, window);
    const weeks = this.weekRanges(window);

    // Whole days come from the kept days where no write has touched them since they were read.
    const scopeKey = JSON.stringify(filter);
    const split = wholeDaysOf(window, this.timeZone);
    const versions = split
      ? dayVersions(this.knex, split)
      : Promise.resolve(new Map<number, number>());
    const perDayQuery = this.deploymentDays
      .figures(scopeKey, window, split, versions, ranges =>
        this.dayCounts(filter, ranges),
      )
      .then(days => [...days.values()]);

    const lastDay = localDay(window.to - 1, this.timeZone);
    const days = Math.max(1, Math.round((window.to - window.from) / DAY_MS));
    /** Days with a deployment in each period of `length` days back from the window's end, oldest first. */
    const perPeriod = (perDay: DayCounts[], length: number) => {
      const periods = Math.max(1, Math.floor(days / length));
      const counts = new Array<number>(periods).fill(0);
      for (const { day } of perDay) {
        const period = Math.floor((lastDay - day) / length);
        if (period >= 0 && period < periods) counts[periods - 1 - period] += 1;
      }
      return counts;
    };

    const changeQuery = this.leadTimes.figures(
      scopeKey,
      window,
      split,
      versions,
      range => this.shippedChanges(filter, range),
    );
    const recoveryQuery = this.percentilesOf(
      deployments().whereRaw('d.failed'),
      RECOVERY,
    );

    const incidentsQuery = scoped(this.knex('dora_incidents as i'), filter, 'i')
      .where('i.detected_at', '>=', window.from)
      .where('i.detected_at', '<', window.to)
      .select(
        this.knex.raw('COUNT(*) AS incidents'),
        this.knex.raw('COUNT(i.deployment_id) AS linked'),
      );

    // Independent statements: PostgreSQL runs them side by side on the pool's connections.
    const [
      perDay,
      { leadTime, mergeToDeploy, weeklyLeadTimes },
      recovery,
      [incidents],
      unattributedEvents,
      weeklyRecoveries,
    ] = await Promise.all([
      perDayQuery,
      changeQuery,
      recoveryQuery,
      incidentsQuery,
      this.unattributedCount(window),
      this.weeklyMedians(
        () => deployments().whereRaw('d.failed'),
        { time: 'd.finished_at', day: 'd.local_day' },
        RECOVERY,
        weeks,
      ),
    ]);
    const sum = (
      field:
        | 'deployments'
        | 'withChanges'
        | 'failed'
        | 'recovered'
        | 'unplanned',
    ) => perDay.reduce((total, row) => total + row[field], 0);
    return {
      deployments: sum('deployments'),
      failed: sum('failed'),
      recovered: sum('recovered'),
      unplannedFixes: sum('unplanned'),
      deploymentsWithChanges: sum('withChanges'),
      deployDaysPerWeek: perPeriod(perDay, 7),
      deployDaysPerMonth: perPeriod(perDay, 30),
      leadTime: toSeconds(leadTime),
      mergeToDeploy: toSeconds(mergeToDeploy),
      droppedNonPositive: leadTime.nonPositive,
      recovery: toSeconds(recovery),
      incidents: Number(incidents.incidents),
      incidentsLinked: Number(incidents.linked),
      unattributedEvents,
      includesDemoData: perDay.some(row => row.demo),
      weeks: this.weeks(weeks, perDay, {
        leadTimes: weeklyLeadTimes,
        recoveries: weeklyRecoveries,
      }),
    };
  }

  /**
   * One row per local day carries the counts, the per-period days and the weekly counts; each range
   * is a statement of its own, side by side.
   */
  private async dayCounts(
    filter: ScopeFilter,
    ranges: TimeWindow[],
  ): Promise<Map<number, DayCounts>> {
    const perRange = await Promise.all(
      ranges.map(range => this.dayCountsIn(filter, range)),
    );
    return new Map(perRange.flat().map(counts => [counts.day, counts]));
  }

  private async dayCountsIn(
    filter: ScopeFilter,
    range: TimeWindow,
  ): Promise<DayCounts[]> {
    const rows = await this.shippedDeployments(filter, range)
      .select(
        this.knex.raw('d.local_day AS day'),
        this.knex.raw('COUNT(*) AS deployments'),
        this.knex.raw(
          'SUM(CASE WHEN d.shipped_changes > 0 THEN 1 ELSE 0 END) AS with_changes',
        ),
        this.knex.raw('SUM(CASE WHEN d.failed THEN 1 ELSE 0 END) AS failed'),
        this.knex.raw(
          'SUM(CASE WHEN d.failed AND d.recovered_at IS NOT NULL THEN 1 ELSE 0 END) AS recovered',
        ),
        this.knex.raw(
          `SUM(CASE WHEN ${UNPLANNED} THEN 1 ELSE 0 END) AS unplanned`,
        ),
        this.knex.raw('MAX(CASE WHEN d.demo THEN 1 ELSE 0 END) AS demo'),
      )
      .groupBy('d.local_day');
    return rows.map(
      (row: Record<string, unknown>): DayCounts => ({
        day: Number(row.day),
        deployments: Number(row.deployments),
        withChanges: Number(row.with_changes ?? 0),
        failed: Number(row.failed ?? 0),
        recovered: Number(row.recovered ?? 0),
        unplanned: Number(row.unplanned ?? 0),
        demo: Number(row.demo ?? 0) > 0,
      }),
    );
  }

  /** The figures of each week, oldest first. */
  private weeks(
    weeks: WeekRange[],
    perDay: DayCounts[],
    percentiles: {
      leadTimes: Map<number, Percentiles>;
      recoveries: Map<number, Percentiles>;
    },
  ): WeekFigures[] {
    const result = new Map<number, WeekFigures>();
    for (const { week: w } of weeks) {
      result.set(w, {
        week: w,
        deployments: 0,
        failed: 0,
        unplannedFixes: 0,
        leadTime: toSeconds(percentiles.leadTimes.get(w)),
        recovery: toSeconds(percentiles.recoveries.get(w)),
      });
    }
    for (const row of perDay) {
      const figures = result.get(weekOf(row.day));
      if (!figures) continue;
      figures.deployments += row.deployments;
      figures.failed += row.failed;
      figures.unplannedFixes += row.unplanned;
    }
    return [...result.values()];
  }

  /** The weeks of the window, oldest first. */
  private weekRanges(window: TimeWindow): WeekRange[] {
    const first = weekOf(localDay(window.from, this.timeZone));
    const last = weekOf(localDay(window.to - 1, this.timeZone));
    const start = (week: number) =>
      localDayStart(weekStartDay(week), this.timeZone);
    const ranges: WeekRange[] = [];
    for (let week = first; week <= last; week++) {
      ranges.push({
        week,
        from: Math.max(window.from, start(week)),
        to: Math.min(window.to, start(week + 1)),
      });
    }
    return ranges;
  }

  private async unattributedCount(window: TimeWindow): Promise<number> {
    const count = async (table: string, column: string) => {
      const [row] = await this.knex(table)
        .whereNull('entity_ref')
        .where(column, '>=', window.from)
        .where(column, '<', window.to)
        .count({ n: '*' });
      return Number(row.n);
    };
    const counts = await Promise.all([
      count('dora_deployments', 'finished_at'),
      count('dora_changes', 'link_at'),
      count('dora_incidents', 'detected_at'),
    ]);
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** The median and 90th percentile of the positive `span` of `rows`, and how many were not positive. */
  private async percentilesOf(
    rows: Knex.QueryBuilder,
    [start, end]: Span,
  ): Promise<PositivePercentiles> {
    const values = this.durations(rows, start, end);
    if (!this.isPostgres) {
      return (await this.rankedPercentiles(values)).get(0) ?? EMPTY;
    }
    const [row] = await this.withSortMemory(tx =>
      tx
        .from(values.as('s'))
        .select(
          tx.raw('COUNT(*) FILTER (WHERE s.v > 0) AS n'),
          tx.raw('COUNT(*) FILTER (WHERE s.v <= 0) AS non_positive'),
          tx.raw(
            'percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY s.v) FILTER (WHERE s.v > 0) AS p',
          ),
        ),
    );
    const p = row.p as number[] | null;
    return {
      count: Number(row.n),
      nonPositive: Number(row.non_positive),
      ...(p && { p50: Number(p[0]), p90: Number(p[1]) }),
    };
  }

  /**
   * The median of the positive `span` of `rows` per Monday-based week of their `time` (whose local day
   * is `day`). On PostgreSQL each week is a range of the time index and a sort of its own: grouped by
   * week, the statement would first sort every value of the window by week.
   */
  private async weeklyMedians(
    rows: () => Knex.QueryBuilder,
    { time, day }: { time: string; day: string },
    [start, end]: Span,
    weeks: WeekRange[],
  ): Promise<Map<number, Percentiles>> {
    const result = new Map<number, Percentiles>();
    if (!this.isPostgres) {
      const values = this.durations(rows(), start, end, `(${day} + 3) / 7`);
      for (const [g, { count, p50 }] of await this.rankedPercentiles(values)) {
        if (count > 0) result.set(g, { count, p50 });
      }
      return result;
    }
    const values = rows()
      .whereRaw(`${time} >= w.lo AND ${time} < w.hi AND ${end} - ${start} > 0`)
      .select(this.knex.raw(`${end} - ${start} AS v`));
    const median = this.knex
      .from(values.as('s'))
      .select(
        this.knex.raw('COUNT(*) AS n'),
        this.knex.raw(
          'percentile_cont(0.5) WITHIN GROUP (ORDER BY s.v) AS p50',
        ),
      );
    const medians = await this.knex
      .from(
        this.knex.raw(
          `(VALUES ${weeks
            .map(() => '(?::int, ?::bigint, ?::bigint)')
            .join(', ')}) AS w(g, lo, hi) CROSS JOIN LATERAL ? AS x`,
          [...weeks.flatMap(w => [w.week, w.from, w.to]), median],
        ),
      )
      .where('x.n', '>', 0)
      .select('w.g', 'x.n', 'x.p50');
    for (const row of medians) {
      result.set(Number(row.g), { count: Number(row.n), p50: Number(row.p50) });
    }
    return result;
  }

  /** A PostgreSQL statement in its own transaction, whose sorts may use more memory than the default. */
  private withSortMemory(
    statement: (tx: Knex.Transaction) => Knex.QueryBuilder,
  ): Promise<Record<string, any>[]> {
    return this.knex.transaction(async tx => {
      // A 90-day organisation has hundreds of thousands of values: more than the default 4 MB sorts.
      await tx.raw(`SET LOCAL work_mem = '${SORT_MEMORY}'`);
      return statement(tx);
    });
  }

  /**
   * SQLite's percentiles, interpolated like PostgreSQL's percentile_cont: per group `g`, a window
   * function picks the rows either side of each rank of the positive `v`.
   */
  private async rankedPercentiles(
    values: Knex.QueryBuilder,
  ): Promise<Map<number, PositivePercentiles>> {
    const result = new Map<number, PositivePercentiles>();
    // Ranks count within the positive and the non-positive values of each group apart; one row of the
    // non-positive ones carries their count.
    const partition = 'PARTITION BY s.g, s.v > 0';
    const ranked = this.knex
      .from(values.as('s'))
      .select(
        's.g',
        's.v',
        this.knex.raw(`ROW_NUMBER() OVER (${partition} ORDER BY s.v) - 1 AS i`),
        this.knex.raw(`COUNT(*) OVER (${partition}) AS n`),
      );
    const rank = (p: number) => `CAST(${p} * (r.n - 1) AS INTEGER)`;
    const rows = await this.knex
      .from(ranked.as('r'))
      .whereRaw(
        `(r.v > 0 AND r.i IN (${rank(0.5)}, ${rank(0.5)} + 1, ${rank(
          0.9,
        )}, ${rank(0.9)} + 1)) OR (r.v <= 0 AND r.i = 0)`,
      )
      .select('r.g', 'r.v', 'r.i', 'r.n');
    const groups = new Map<
      number,
      { n: number; nonPositive: number; at: Map<number, number> }
    >();
    for (const row of rows) {
      const g = Number(row.g);
      const group = groups.get(g) ?? { n: 0, nonPositive: 0, at: new Map() };
      if (Number(row.v) > 0) {
        group.n = Number(row.n);
        group.at.set(Number(row.i), Number(row.v));
      } else {
        group.nonPositive = Number(row.n);
      }
      groups.set(g, group);
    }
    for (const [g, { n, nonPositive, at }] of groups) {
      const interpolate = (p: number) => {
        const position = p * (n - 1);
        const lower = Math.floor(position);
        const low = at.get(lower) as number;
        const high = at.get(lower + 1) ?? low;
        return low + (position - lower) * (high - low);
      };
      result.set(
        g,
        n === 0
          ? { count: 0, nonPositive }
          : {
              count: n,
              nonPositive,
              p50: interpolate(0.5),
              p90: interpolate(0.9),
            },
      );
    }
    return result;
  }

  async listDeployments(query: ListQuery) {
    const base = scoped(this.knex('dora_deployments as d'), query.filter, 'd')
      .where('d.finished_at', '>=', query.window.from)
      .where('d.finished_at', '<', query.window.to)
      .modify(q => {
        if (query.failedOnly) q.whereRaw('d.failed');
      });
    const [{ n }] = await base.clone().count({ n: '*' });
    const rows = await this.withDeploymentDetails(base.clone())
      .orderBy('d.finished_at', 'desc')
      .orderBy('d.id', 'desc')
      .limit(query.limit)
      .offset(query.offset);
    return { rows, totalCount: Number(n) };
  }

  async getDeployment(id: number) {
    return this.withDeploymentDetails(
      this.knex('dora_deployments as d').where('d.id', id),
    ).first();
  }

  /** A deployment with how many changes it shipped and why it failed. */
  private withDeploymentDetails(query: Knex.QueryBuilder) {
    return query.select(
      'd.*',
      this.knex.raw('d.shipped_changes AS changes'),
      this.knex.raw(
        "(SELECT MIN('incident') FROM dora_incidents i WHERE i.deployment_id = d.id) AS incident_cause",
      ),
      this.knex.raw(
        "(SELECT MIN('fix') FROM dora_deployments f WHERE f.fix_of = d.id AND f.succeeded) AS fix_cause",
      ),
      this.knex.raw(
        "(SELECT MIN('rollback') FROM dora_deployments f WHERE f.rollback_of = d.id AND f.succeeded) AS rollback_cause",
      ),
    );
  }

  async listIncidents(query: ListQuery) {
    const base = scoped(this.knex('dora_incidents as i'), query.filter, 'i')
      .where('i.detected_at', '>=', query.window.from)
      .where('i.detected_at', '<', query.window.to);
    const [{ n }] = await base.clone().count({ n: '*' });
    const rows = await base
      .clone()
      .select('i.*')
      .orderBy('i.detected_at', 'desc')
      .orderBy('i.id', 'desc')
      .limit(query.limit)
      .offset(query.offset);
    return { rows, totalCount: Number(n) };
  }

  /** What unattributed events named, most frequent first, so that people can fix their annotations. */
  async listUnattributed() {
    const part = (kind: string, table: string, column: string) =>
      `SELECT '${kind}' AS kind, source, attribution_key, COUNT(*) AS events, MAX(${column}) AS last_seen_at
       FROM ${table} WHERE entity_ref IS NULL GROUP BY source, attribution_key`;
    // Rows of the three tables' groups together, most frequent first.
    return (await rawRows(
      this.knex,
      `SELECT * FROM (
         ${part('deployment', 'dora_deployments', 'finished_at')}
         UNION ALL ${part('change', 'dora_changes', 'link_at')}
         UNION ALL ${part('incident', 'dora_incidents', 'detected_at')}
       ) u ORDER BY events DESC, attribution_key LIMIT 200`,
      [],
    )) as {
      kind: 'deployment' | 'change' | 'incident';
      source: string;
      attribution_key: string;
      events: number | string;
      last_seen_at: number | string;
    }[];
  }
}

function scoped(
  query: Knex.QueryBuilder,
  filter: ScopeFilter,
  alias: string,
): Knex.QueryBuilder {
  if (filter.entityRefs)
    query.whereIn(`${alias}.entity_ref`, filter.entityRefs);
  if (filter.systemRef) query.where(`${alias}.system_ref`, filter.systemRef);
  if (filter.ownerRefs) query.whereIn(`${alias}.owner_ref`, filter.ownerRefs);
  return query;
}

function toSeconds(p?: Percentiles): Percentiles {
  if (!p) return { count: 0 };
  return {
    count: p.count,
    p50: p.p50 === undefined ? undefined : p.p50 / 1000,
    p90: p.p90 === undefined ? undefined : p.p90 / 1000,
  };
}
