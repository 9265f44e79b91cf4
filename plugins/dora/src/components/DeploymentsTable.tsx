import { Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/frontend-plugin-api';
import { DeploymentRow, DoraQuery } from '@internal/plugin-dora-common';
import { Alert, Button, Flex } from '@backstage/ui';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { doraApiRef } from '../api';
import { formatTime } from './format';

const CAUSE_LABEL = {
  incident: 'incident',
  rollback: 'rolled back',
  fix: 'fixed later',
  manual: 'marked by a person',
};

/**
 * The deployments behind the figures, newest first. A person may mark one as failed, or as the fix of
 * the one before it; both change the figures and are audited.
 */
export function DeploymentsTable(props: {
  query: DoraQuery;
  onChange: () => void;
}) {
  const api = useApi(doraApiRef);
  const [error, setError] = useState<string>();
  const { value, loading, retry } = useAsyncRetry(
    () => api.listDeployments({ ...props.query, limit: 100 }),
    [api, JSON.stringify(props.query)],
  );
  const rows = value?.items ?? [];

  const mark = async (
    row: DeploymentRow,
    change: { failed?: boolean; fixOf?: string | null },
  ) => {
    setError(undefined);
    try {
      await api.markDeployment(row.id, change);
      retry();
      props.onChange();
    } catch (e) {
      setError(`Deployment ${row.id}: ${(e as Error).message}`);
    }
  };
  const previous = (row: DeploymentRow) =>
    rows.find(
      other =>
        other.entityRef === row.entityRef &&
        other.id !== row.id &&
        other.finishedAt < row.finishedAt,
    );

  const columns: TableColumn<DeploymentRow>[] = [
    { title: 'Finished', render: row => formatTime(row.finishedAt) },
    { title: 'Entity', render: row => row.entityRef ?? 'unattributed' },
    { title: 'Environment', field: 'environment' },
    { title: 'Source', field: 'source' },
    { title: 'Changes', field: 'changes', type: 'numeric' },
    {
      title: 'Outcome',
      render: row => {
        if (!row.succeeded) return 'did not complete';
        if (!row.failed) return row.rollback ? 'rollback' : 'ok';
        const causes = row.failureCauses.map(c => CAUSE_LABEL[c]).join(', ');
        return `failed (${causes}); ${
          row.recoveredAt
            ? `recovered ${formatTime(row.recoveredAt)}`
            : 'not recovered'
        }`;
      },
    },
    {
      title: 'Mark',
      render: row => {
        const before = previous(row);
        const manual = row.failureCauses.includes('manual');
        return (
          <Flex gap="1">
            <Button
              size="small"
              variant="secondary"
              onPress={() => mark(row, { failed: !manual })}
            >
              {manual ? 'Not failed' : 'Mark failed'}
            </Button>
            {row.fixOf ? (
              <Button
                size="small"
                variant="tertiary"
                onPress={() => mark(row, { fixOf: null })}
              >
                Not a fix
              </Button>
            ) : (
              before && (
                <Button
                  size="small"
                  variant="tertiary"
                  onPress={() => mark(row, { fixOf: before.id })}
                >
                  Fix of previous
                </Button>
              )
            )}
          </Flex>
        );
      },
    },
  ];

  return (
    <>
      {error && <Alert status="danger" title={error} />}
      <Table
        title={`Deployments (${value?.totalCount ?? 0})`}
        options={{
          paging: true,
          pageSize: 10,
          search: false,
          padding: 'dense',
        }}
        isLoading={loading}
        columns={columns}
        data={rows}
      />
    </>
  );
}
