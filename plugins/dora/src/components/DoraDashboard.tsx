import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { configApiRef, useApi } from '@backstage/frontend-plugin-api';
import { DoraQuery, DoraScope } from '@internal/plugin-dora-common';
import { Alert, Flex, Select, Text } from '@backstage/ui';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { doraApiRef } from '../api';
import { DeploymentsTable } from './DeploymentsTable';
import { GettingStarted } from './GettingStarted';
import { IncidentsTable } from './IncidentsTable';
import { MetricTiles } from './MetricTiles';
import { TrendCharts } from './TrendCharts';

const WINDOWS = [
  ...[7, 30, 90, 180].map(days => ({
    id: String(days),
    label: `Last ${days} days`,
  })),
  { id: 'custom', label: 'Custom dates' },
];

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The API's window: days back from now, or from the first to the end of the last chosen day (UTC). */
function windowQuery(
  window: string,
  range: { from: string; to: string },
): Pick<DoraQuery, 'window' | 'from' | 'to'> {
  if (window !== 'custom') return { window: Number(window) };
  const to = new Date(`${range.to}T00:00:00Z`).getTime() + 86_400_000;
  return { from: `${range.from}T00:00:00Z`, to: new Date(to).toISOString() };
}

/** Everything the page, the tab and the card show for one scope. */
export function DoraDashboard(props: { scope: DoraScope; compact?: boolean }) {
  const api = useApi(doraApiRef);
  const baseUrl = useApi(configApiRef).getString('backend.baseUrl');
  const [window, setWindow] = useState('90');
  const [range, setRange] = useState({
    from: isoDay(Date.now() - 30 * 86_400_000),
    to: isoDay(Date.now()),
  });
  const [benchmark, setBenchmark] = useState<string>();
  const query: DoraQuery = {
    ...props.scope,
    ...windowQuery(window, range),
    benchmark,
  };
  const benchmarks = useAsyncRetry(() => api.getBenchmarks(), [api]);
  const summary = useAsyncRetry(
    () => api.getSummary(query),
    [api, JSON.stringify(query)],
  );

  if (summary.error) return <ResponseErrorPanel error={summary.error} />;
  const nothing =
    summary.value &&
    summary.value.deploymentFrequency.deployments === 0 &&
    summary.value.dataQuality.incidents === 0;

  return (
    <Flex direction="column" gap="4">
      <Flex gap="3" align="end">
        <Select
          label="Window"
          options={WINDOWS}
          selectedKey={window}
          onSelectionChange={key => setWindow(String(key))}
        />
        {window === 'custom' &&
          (['from', 'to'] as const).map(end => (
            <label key={end}>
              <Text variant="body-small">{end === 'from' ? 'From' : 'To'}</Text>
              <input
                type="date"
                value={range[end]}
                max={isoDay(Date.now())}
                onChange={e => {
                  const value = e.target.value;
                  if (value)
                    setRange(current => ({ ...current, [end]: value }));
                }}
              />
            </label>
          ))}
        {!props.compact && benchmarks.value && (
          <Select
            label="Benchmark"
            options={benchmarks.value.sets.map(set => ({
              id: set.id,
              label: set.name,
            }))}
            selectedKey={benchmark ?? benchmarks.value.default}
            onSelectionChange={key => setBenchmark(String(key))}
          />
        )}
      </Flex>
      {summary.loading && !summary.value && <Progress />}
      {summary.value?.includesDemoData && (
        <Alert
          status="info"
          data-testid="dora-demo"
          title="Demo data"
          description="These figures include a seeded history for the demo catalog (dora.demoData in app-config.yaml). Production starts empty and fills from your webhooks and CI."
        />
      )}
      {summary.value && (
        <>
          {nothing && <GettingStarted baseUrl={baseUrl} />}
          <MetricTiles summary={summary.value} compact={props.compact} />
          <Text variant="body-small" color="secondary">
            {summary.value.window.days} days to{' '}
            {new Date(summary.value.window.to).toLocaleString()}, days counted
            in {summary.value.timeZone}; levels from{' '}
            {summary.value.benchmark.name}.
          </Text>
          {!props.compact && !nothing && (
            <>
              <TrendCharts trend={summary.value.trend} />
              <DeploymentsTable query={query} onChange={summary.retry} />
              <IncidentsTable query={query} />
            </>
          )}
        </>
      )}
    </Flex>
  );
}
