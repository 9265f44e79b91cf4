import {
  discoveryApiRef,
  fetchApiRef,
  useApi,
} from '@backstage/frontend-plugin-api';
import {
  Content,
  EmptyState,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import useAsync from 'react-use/esm/useAsync';

interface FileError {
  file: string;
  line?: number;
  message: string;
}

interface RepositoryRow {
  url: string;
  provider: string;
  syncedCommit?: string;
  lastSuccessAt?: string;
  lastAttemptAt?: string;
  lastError?: string;
  entityCount: number;
  fileErrors: FileError[];
  /** Errors the catalog reported while processing this repository's entities. */
  processingErrors: { entityRef: string; message: string }[];
}

const when = (iso?: string) => (iso ? new Date(iso).toLocaleString() : 'never');

const columns: TableColumn<RepositoryRow>[] = [
  { title: 'Repository', field: 'url' },
  { title: 'Provider', field: 'provider' },
  {
    title: 'Commit ingested',
    render: row => (row.syncedCommit ? row.syncedCommit.slice(0, 12) : '—'),
  },
  { title: 'Last successful sync', render: row => when(row.lastSuccessAt) },
  { title: 'Entities', field: 'entityCount', type: 'numeric' },
  {
    title: 'Errors',
    render: row => (
      <>
        {row.lastError && <div>Last attempt: {row.lastError}</div>}
        {row.fileErrors.map(e => (
          <div key={`${e.file}:${e.line}:${e.message}`}>
            {e.file}
            {e.line ? `:${e.line}` : ''}: {e.message}
          </div>
        ))}
        {row.processingErrors.map(e => (
          <div key={`${e.entityRef}:${e.message}`}>
            {e.entityRef} (catalog processing): {e.message}
          </div>
        ))}
      </>
    ),
  },
];

export function IngestionStatusPage() {
  const discovery = useApi(discoveryApiRef);
  const { fetch } = useApi(fetchApiRef);
  const { value, loading, error } = useAsync(async () => {
    const base = await discovery.getBaseUrl('catalog');
    const res = await fetch(`${base}/portico-git/status`);
    if (!res.ok)
      throw new Error(`status request failed: ${res.status} ${res.statusText}`);
    const body: {
      providers: {
        id: string;
        repositories: Omit<RepositoryRow, 'provider'>[];
      }[];
    } = await res.json();
    return body.providers.flatMap(p =>
      p.repositories.map(r => ({ ...r, provider: p.id })),
    );
  }, [discovery, fetch]);

  if (loading) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  return (
    <Content>
      {value?.length ? (
        <Table
          title={`Repositories (${value.length})`}
          options={{ paging: value.length > 50, pageSize: 50, search: true }}
          columns={columns}
          data={value}
        />
      ) : (
        <EmptyState
          missing="data"
          title="No Git repositories are ingested yet"
          description="Configure catalog.providers.git in app-config (see plugins/catalog-backend-module-git/README.md); each repository's last commit, sync, entity count and errors then show here."
        />
      )}
    </Content>
  );
}
