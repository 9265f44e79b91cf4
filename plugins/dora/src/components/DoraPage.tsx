import { Content, Header, Page } from '@backstage/core-components';
import { useApi } from '@backstage/frontend-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { catalogApiRef } from '@backstage/plugin-catalog-react';
import { Flex, Select } from '@backstage/ui';
import { useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { DoraDashboard } from './DoraDashboard';
import { UnattributedTable } from './UnattributedTable';

const ORGANISATION = 'all';

/** The DORA page: the organisation, or one team with its child groups. */
export function DoraPage() {
  const catalogApi = useApi(catalogApiRef);
  const [team, setTeam] = useState(ORGANISATION);
  const groups = useAsync(async () => {
    const { items } = await catalogApi.getEntities({
      filter: { kind: 'group' },
      fields: ['kind', 'metadata.namespace', 'metadata.name', 'metadata.title'],
    });
    return items
      .map(group => ({
        id: stringifyEntityRef(group),
        label: group.metadata.title ?? group.metadata.name,
      }))
      .sort((a, b) => a.label.localeCompare(b.label));
  }, [catalogApi]);

  return (
    <Page themeId="tool">
      <Header
        title="DORA metrics"
        subtitle="How often we deploy, how fast changes reach production, how often they fail and how fast we recover"
      />
      <Content>
        <Flex direction="column" gap="4">
          <Select
            label="Team"
            options={[
              { id: ORGANISATION, label: 'Whole organisation' },
              ...(groups.value ?? []),
            ]}
            selectedKey={team}
            onSelectionChange={key => setTeam(String(key))}
          />
          <DoraDashboard
            scope={team === ORGANISATION ? {} : { groupRef: team }}
          />
          <UnattributedTable />
        </Flex>
      </Content>
    </Page>
  );
}
