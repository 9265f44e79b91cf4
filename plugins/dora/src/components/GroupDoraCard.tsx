import { stringifyEntityRef } from '@backstage/catalog-model';
import { InfoCard } from '@backstage/core-components';
import { useEntity } from '@backstage/plugin-catalog-react';
import { DoraDashboard } from './DoraDashboard';

/** The DORA card of a group: its figures with those of its child groups. */
export function GroupDoraCard() {
  const { entity } = useEntity();
  return (
    <InfoCard
      title="DORA metrics"
      deepLink={{ title: 'All DORA figures', link: '/dora' }}
    >
      <DoraDashboard scope={{ groupRef: stringifyEntityRef(entity) }} compact />
    </InfoCard>
  );
}
