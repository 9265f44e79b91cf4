import type {
  Classification,
  DoraMetricId,
  FrequencyBucket,
  PerformanceLevel,
} from './types';

const HOUR = 3600;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 30 * DAY;
const SIX_MONTHS = 182 * DAY;

/**
 * The thresholds of one performance level: a figure reaches the level when it is at least as good as every
 * bound given. A missing bound means the level has none for that metric.
 */
export interface BenchmarkLevel {
  level: PerformanceLevel;
  /** The least frequent bucket that still reaches this level. */
  deploymentFrequency?: FrequencyBucket;
  leadTimeMaxSeconds?: number;
  changeFailureRateMax?: number;
  recoveryTimeMaxSeconds?: number;
  reworkRateMax?: number;
}

export interface BenchmarkSet {
  id: string;
  name: string;
  /** Best level first. */
  levels: BenchmarkLevel[];
}

/** Both reports' elite cluster: on demand, under a day, 5 %, under an hour. */
const ELITE: BenchmarkLevel = {
  level: 'elite',
  deploymentFrequency: 'daily',
  leadTimeMaxSeconds: DAY,
  changeFailureRateMax: 0.05,
  recoveryTimeMaxSeconds: HOUR,
};

/**
 * DORA's published clusters. The reports give each level's typical value; the upper end of its band is used
 * as the bound. 2024's medium cluster has a lower change failure rate (10 %) than its high one (20 %):
 * a figure takes the best level whose bound it meets.
 */
export const DORA_BENCHMARKS: BenchmarkSet[] = [
  {
    id: '2024',
    name: 'DORA 2024 (Accelerate State of DevOps Report 2024)',
    levels: [
      ELITE,
      {
        level: 'high',
        deploymentFrequency: 'weekly',
        leadTimeMaxSeconds: WEEK,
        changeFailureRateMax: 0.2,
        recoveryTimeMaxSeconds: DAY,
      },
      {
        level: 'medium',
        deploymentFrequency: 'monthly',
        leadTimeMaxSeconds: MONTH,
        changeFailureRateMax: 0.1,
        recoveryTimeMaxSeconds: DAY,
      },
      {
        level: 'low',
        deploymentFrequency: 'lower',
        leadTimeMaxSeconds: SIX_MONTHS,
        changeFailureRateMax: 0.4,
        recoveryTimeMaxSeconds: MONTH,
      },
    ],
  },
  {
    id: '2023',
    name: 'DORA 2023 (Accelerate State of DevOps Report 2023)',
    levels: [
      ELITE,
      {
        level: 'high',
        deploymentFrequency: 'weekly',
        leadTimeMaxSeconds: WEEK,
        changeFailureRateMax: 0.1,
        recoveryTimeMaxSeconds: DAY,
      },
      {
        level: 'medium',
        deploymentFrequency: 'monthly',
        leadTimeMaxSeconds: MONTH,
        changeFailureRateMax: 0.15,
        recoveryTimeMaxSeconds: WEEK,
      },
      {
        level: 'low',
        deploymentFrequency: 'monthly',
        leadTimeMaxSeconds: MONTH,
        changeFailureRateMax: 0.64,
        recoveryTimeMaxSeconds: SIX_MONTHS,
      },
    ],
  },
];

export const DEFAULT_BENCHMARK_ID = '2024';

const FREQUENCY_ORDER: FrequencyBucket[] = [
  'daily',
  'weekly',
  'monthly',
  'lower',
];

/** The figure of one metric that a level is judged on. */
export type MetricValue =
  | { metric: 'deploymentFrequency'; bucket: FrequencyBucket }
  | {
      metric: Exclude<DoraMetricId, 'deploymentFrequency'>;
      value: number;
    };

function reaches(level: BenchmarkLevel, figure: MetricValue): boolean {
  switch (figure.metric) {
    case 'deploymentFrequency':
      return (
        level.deploymentFrequency !== undefined &&
        FREQUENCY_ORDER.indexOf(figure.bucket) <=
          FREQUENCY_ORDER.indexOf(level.deploymentFrequency)
      );
    case 'leadTime':
      return within(figure.value, level.leadTimeMaxSeconds);
    case 'changeFailureRate':
      return within(figure.value, level.changeFailureRateMax);
    case 'recoveryTime':
      return within(figure.value, level.recoveryTimeMaxSeconds);
    case 'reworkRate':
      return within(figure.value, level.reworkRateMax);
    default:
      return false;
  }
}

function within(value: number, max?: number) {
  return max !== undefined && value <= max;
}

const BOUND_OF = {
  leadTime: 'leadTimeMaxSeconds',
  changeFailureRate: 'changeFailureRateMax',
  recoveryTime: 'recoveryTimeMaxSeconds',
  reworkRate: 'reworkRateMax',
} as const;

/**
 * The best level of the set whose bound the figure meets; a figure worse than every bound is the set's last
 * level, when that level has a bound for the metric at all. Undefined when the set does not benchmark it.
 */
export function classify(
  set: BenchmarkSet,
  figure: MetricValue,
): Classification | undefined {
  const met = set.levels.find(level => reaches(level, figure));
  if (met) return { level: met.level, benchmark: set.id };
  const last = set.levels[set.levels.length - 1];
  const benchmarked =
    figure.metric === 'deploymentFrequency'
      ? last?.deploymentFrequency !== undefined
      : last?.[BOUND_OF[figure.metric]] !== undefined;
  return benchmarked && last
    ? { level: last.level, benchmark: set.id }
    : undefined;
}
