import {
  BenchmarkSet,
  classify,
  DoraScope,
  DoraSummary,
  FrequencyBucket,
  TrendPoint,
} from '@internal/plugin-dora-common';
import { DateTime } from 'luxon';
import { DAY_MS, weekStartDay } from '../database/days';
import { RawSummary, TimeWindow } from '../database/metrics';

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** ≥ 3 days with a deployment in the median week is daily, ≥ 1 weekly, a day in the median 30 days monthly. */
export function frequencyBucket(
  deployDaysPerWeek: number[],
  deployDaysPerMonth: number[],
): FrequencyBucket {
  const perWeek = median(deployDaysPerWeek);
  if (perWeek >= 3) return 'daily';
  if (perWeek >= 1) return 'weekly';
  return median(deployDaysPerMonth) >= 1 ? 'monthly' : 'lower';
}

const ratio = (part: number, whole: number) =>
  whole > 0 ? part / whole : undefined;

/** The figures a person reads, from the store's counts and percentiles, classified by one benchmark set. */
export function summarize(options: {
  raw: RawSummary;
  scope: DoraScope;
  window: TimeWindow;
  timeZone: string;
  benchmark: BenchmarkSet;
}): DoraSummary {
  const { raw, scope, window, timeZone, benchmark } = options;
  const days = Math.max(1, Math.round((window.to - window.from) / DAY_MS));
  const bucket = frequencyBucket(raw.deployDaysPerWeek, raw.deployDaysPerMonth);
  const changeFailureRate = ratio(raw.failed, raw.deployments);
  const reworkRate = ratio(raw.unplannedFixes, raw.deployments);
  const byValue = <
    M extends 'leadTime' | 'changeFailureRate' | 'recoveryTime' | 'reworkRate',
  >(
    metric: M,
    value: number | undefined,
  ) =>
    value === undefined ? undefined : classify(benchmark, { metric, value });

  return {
    scope,
    window: {
      from: new Date(window.from).toISOString(),
      to: new Date(window.to).toISOString(),
      days,
    },
    timeZone,
    benchmark: { id: benchmark.id, name: benchmark.name },
    deploymentFrequency: {
      deployments: raw.deployments,
      perDay: raw.deployments / days,
      perWeek: (raw.deployments * 7) / days,
      medianDeployDaysPerWeek: median(raw.deployDaysPerWeek),
      bucket,
      classification:
        raw.deployments > 0
          ? classify(benchmark, { metric: 'deploymentFrequency', bucket })
          : undefined,
    },
    leadTime: {
      changes: raw.leadTime.count,
      medianSeconds: raw.leadTime.p50,
      p90Seconds: raw.leadTime.p90,
      mergeToDeploy: {
        changes: raw.mergeToDeploy.count,
        medianSeconds: raw.mergeToDeploy.p50,
        p90Seconds: raw.mergeToDeploy.p90,
      },
      droppedNonPositive: raw.droppedNonPositive,
      classification: byValue('leadTime', raw.leadTime.p50),
    },
    changeFailureRate: {
      deployments: raw.deployments,
      failed: raw.failed,
      rate: changeFailureRate,
      classification: byValue('changeFailureRate', changeFailureRate),
    },
    recoveryTime: {
      failed: raw.failed,
      recovered: raw.recovered,
      medianSeconds: raw.recovery.p50,
      classification: byValue('recoveryTime', raw.recovery.p50),
    },
    reworkRate: {
      deployments: raw.deployments,
      unplannedFixes: raw.unplannedFixes,
      rate: reworkRate,
      classification: byValue('reworkRate', reworkRate),
    },
    dataQuality: {
      deployments: raw.deployments,
      deploymentsWithChanges: raw.deploymentsWithChanges,
      incidents: raw.incidents,
      incidentsLinkedToDeployment: raw.incidentsLinked,
      unattributedEvents: raw.unattributedEvents,
    },
    trend: raw.weeks.map(
      (week): TrendPoint => ({
        weekStart: mondayOf(week.week),
        deployments: week.deployments,
        leadTimeMedianSeconds: week.leadTime.p50,
        changeFailureRate: ratio(week.failed, week.deployments),
        recoveryMedianSeconds: week.recovery.p50,
        reworkRate: ratio(week.unplannedFixes, week.deployments),
      }),
    ),
    includesDemoData: raw.includesDemoData,
  };
}

/** Week n (Monday-based, counted like the store's `weekOf`) as its Monday's date. */
function mondayOf(week: number): string {
  return DateTime.fromMillis(weekStartDay(week) * DAY_MS, {
    zone: 'UTC',
  }).toISODate() as string;
}
