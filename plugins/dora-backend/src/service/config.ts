import { Config } from '@backstage/config';
import {
  BenchmarkLevel,
  BenchmarkSet,
  DEFAULT_BENCHMARK_ID,
  DORA_BENCHMARKS,
} from '@internal/plugin-dora-common';
import { DateTime } from 'luxon';
import { DEFAULT_SOURCE_SETTINGS, SourceSettings } from '../sources/types';

export function readSourceSettings(config: Config): SourceSettings {
  return {
    productionEnvironments:
      config.getOptionalStringArray('dora.productionEnvironments') ??
      DEFAULT_SOURCE_SETTINGS.productionEnvironments,
    githubDeploymentWorkflows:
      config.getOptionalStringArray('dora.github.deploymentWorkflows') ??
      DEFAULT_SOURCE_SETTINGS.githubDeploymentWorkflows,
  };
}

export interface DoraSettings {
  timeZone: string;
  benchmarks: BenchmarkSet[];
  defaultBenchmark: string;
  demoData: boolean;
}

const LEVELS = ['elite', 'high', 'medium', 'low'];

/** `dora.*`: the time zone of day and week buckets, the benchmark sets and which one classifies. */
export function readDoraSettings(config: Config): DoraSettings {
  const timeZone = config.getOptionalString('dora.timeZone') ?? 'UTC';
  if (!DateTime.local().setZone(timeZone).isValid) {
    throw new Error(`dora.timeZone: "${timeZone}" is not an IANA time zone`);
  }
  const custom = (config.getOptionalConfigArray('dora.benchmarks') ?? []).map(
    (set): BenchmarkSet => ({
      id: set.getString('id'),
      name: set.getString('name'),
      levels: set.getConfigArray('levels').map((level): BenchmarkLevel => {
        const name = level.getString('level');
        if (!LEVELS.includes(name)) {
          throw new Error(
            `dora.benchmarks: level "${name}" is not one of ${LEVELS.join(
              ', ',
            )}`,
          );
        }
        return {
          level: name as BenchmarkLevel['level'],
          deploymentFrequency: level.getOptionalString(
            'deploymentFrequency',
          ) as BenchmarkLevel['deploymentFrequency'],
          leadTimeMaxSeconds: level.getOptionalNumber('leadTimeMaxSeconds'),
          changeFailureRateMax: level.getOptionalNumber('changeFailureRateMax'),
          recoveryTimeMaxSeconds: level.getOptionalNumber(
            'recoveryTimeMaxSeconds',
          ),
          reworkRateMax: level.getOptionalNumber('reworkRateMax'),
        };
      }),
    }),
  );
  const benchmarks = [
    ...custom,
    ...DORA_BENCHMARKS.filter(set => !custom.some(c => c.id === set.id)),
  ];
  const defaultBenchmark =
    config.getOptionalString('dora.benchmark') ?? DEFAULT_BENCHMARK_ID;
  if (!benchmarks.some(set => set.id === defaultBenchmark)) {
    throw new Error(
      `dora.benchmark: no benchmark set "${defaultBenchmark}"; known: ${benchmarks
        .map(s => s.id)
        .join(', ')}`,
    );
  }
  return {
    timeZone,
    benchmarks,
    defaultBenchmark,
    demoData: config.getOptionalBoolean('dora.demoData') ?? false,
  };
}
