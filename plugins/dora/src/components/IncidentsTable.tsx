import { Link, Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/frontend-plugin-api';
import { DoraQuery, IncidentRow } from '@internal/plugin-dora-common';
import useAsync from 'react-use/esm/useAsync';
import { doraApiRef } from '../api';
import { formatDuration, formatTime } from './format';

const columns: TableColumn<IncidentRow>[] = [
  { title: 'Detected', render: row => formatTime(row.detectedAt) },
  {
    title: 'Resolved',
    render: row =>
      row.resolvedAt
        ? `${formatTime(row.resolvedAt)} (${formatDuration(
            (Date.parse(row.resolvedAt) - Date.parse(row.detectedAt)) / 1000,
          )})`
        : 'open',
  },
  { title: 'Entity', render: row => row.entityRef ?? 'unattributed' },
  {
    title: 'Incident',
    render: row =>
      row.url ? (
        <Link to={row.url}>{row.title ?? row.id}</Link>
      ) : (
        row.title ?? row.id
      ),
  },
  { title: 'Source', field: 'source' },
  {
    title: 'Caused by deployment',
    render: row => row.deploymentId ?? 'not linked',
  },
];

export function IncidentsTable({ query }: { query: DoraQuery }) {
  const api = useApi(doraApiRef);
  const { value, loading } = useAsync(
    () => api.listIncidents({ ...query, limit: 100 }),
    [api, JSON.stringify(query)],
  );
  return (
    <Table
      title={`Incidents (${value?.totalCount ?? 0})`}
      options={{ paging: true, pageSize: 10, search: false, padding: 'dense' }}
      isLoading={loading}
      columns={columns}
      data={value?.items ?? []}
    />
  );
}
