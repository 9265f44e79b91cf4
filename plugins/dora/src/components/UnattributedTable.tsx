import { Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/frontend-plugin-api';
import { UnattributedRow } from '@internal/plugin-dora-common';
import useAsync from 'react-use/esm/useAsync';
import { doraApiRef } from '../api';
import { formatTime } from './format';

const columns: TableColumn<UnattributedRow>[] = [
  { title: 'What the events named', field: 'key' },
  { title: 'Kind', field: 'kind' },
  { title: 'Source', field: 'source' },
  { title: 'Events', field: 'events', type: 'numeric' },
  { title: 'Last seen', render: row => formatTime(row.lastSeenAt) },
];

/** Events kept without an entity: add the annotation they name to the right entity to attribute the next ones. */
export function UnattributedTable() {
  const api = useApi(doraApiRef);
  const { value, loading } = useAsync(() => api.listUnattributed(), [api]);
  if (!loading && (value ?? []).length === 0) return null;
  return (
    <Table
      title="Events that matched no entity"
      subtitle="Add the annotation on the left to the entity they belong to; later events are attributed to it."
      options={{ paging: false, search: false, padding: 'dense' }}
      isLoading={loading}
      columns={columns}
      data={value ?? []}
    />
  );
}
