import { stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';
import { DoraDashboard } from './DoraDashboard';

/** The DORA tab: a component's own figures, or a system's across its components. */
export function EntityDoraContent() {
  const { entity } = useEntity();
  const ref = stringifyEntityRef(entity);
  return (
    <DoraDashboard
      scope={
        entity.kind.toLowerCase() === 'system'
          ? { systemRef: ref }
          : { entityRef: ref }
      }
    />
  );
}
