import { TrendPoint } from '@internal/plugin-dora-common';
import { Card, CardBody, CardHeader, Grid, Text } from '@backstage/ui';
import {
  CartesianGrid,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';

interface Series {
  title: string;
  unit: string;
  value: (point: TrendPoint) => number | undefined;
}

const SERIES: Series[] = [
  { title: 'Deployments per week', unit: '', value: p => p.deployments },
  {
    title: 'Lead time, median (hours)',
    unit: ' h',
    value: p => hours(p.leadTimeMedianSeconds),
  },
  {
    title: 'Change failure rate (%)',
    unit: ' %',
    value: p => percent(p.changeFailureRate),
  },
  {
    title: 'Recovery time, median (hours)',
    unit: ' h',
    value: p => hours(p.recoveryMedianSeconds),
  },
  { title: 'Rework rate (%)', unit: ' %', value: p => percent(p.reworkRate) },
];

function hours(seconds?: number) {
  return seconds === undefined ? undefined : Math.round(seconds / 36) / 100;
}

function percent(rate?: number) {
  return rate === undefined ? undefined : Math.round(rate * 1000) / 10;
}

/** One weekly line per metric; a week without data leaves a gap rather than a false zero. */
export function TrendCharts({ trend }: { trend: TrendPoint[] }) {
  return (
    <Grid.Root columns={{ initial: '1', md: '2', lg: '3' }} gap="3">
      {SERIES.map(series => (
        <Card key={series.title} data-testid="dora-trend">
          <CardHeader>
            <Text variant="title-x-small">{series.title}</Text>
          </CardHeader>
          <CardBody>
            <ResponsiveContainer width="100%" height={180}>
              <LineChart
                data={trend.map(point => ({
                  week: point.weekStart,
                  value: series.value(point),
                }))}
                margin={{ top: 8, right: 8, bottom: 0, left: -16 }}
              >
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="week" tick={{ fontSize: 11 }} minTickGap={24} />
                <YAxis tick={{ fontSize: 11 }} />
                <Tooltip formatter={value => `${value}${series.unit}`} />
                <Line
                  type="monotone"
                  dataKey="value"
                  name={series.title}
                  stroke="#2f6fb5"
                  dot={false}
                  connectNulls={false}
                  isAnimationActive={false}
                />
              </LineChart>
            </ResponsiveContainer>
          </CardBody>
        </Card>
      ))}
    </Grid.Root>
  );
}
