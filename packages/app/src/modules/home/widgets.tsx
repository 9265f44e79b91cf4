import { useApi, identityApiRef } from '@backstage/frontend-plugin-api';
import { catalogApiRef, EntityRefLink } from '@backstage/plugin-catalog-react';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { CATALOG_FILTER_EXISTS } from '@backstage/catalog-client';
import { Flex, Link, Text } from '@backstage/ui';
import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import useAsync from 'react-use/esm/useAsync';
import { ReactNode } from 'react';

function EntityList(props: {
  entities?: Entity[];
  loading: boolean;
  error?: Error;
  empty: ReactNode;
  detail: (entity: Entity) => ReactNode;
}) {
  const { entities, loading, error, empty, detail } = props;
  if (loading) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!entities?.length) return <Text>{empty}</Text>;
  return (
    <Flex direction="column" gap="2">
      {entities.map(entity => (
        <Flex key={stringifyEntityRef(entity)} justify="between" align="center">
          <EntityRefLink entityRef={entity} />
          <Text variant="body-small" color="secondary">
            {detail(entity)}
          </Text>
        </Flex>
      ))}
    </Flex>
  );
}

/** The components owned by the signed-in user and their teams: what a developer opens Portico for. */
export const MyTeamServices = () => {
  const identityApi = useApi(identityApiRef);
  const catalogApi = useApi(catalogApiRef);
  const { value, loading, error } = useAsync(async () => {
    const { ownershipEntityRefs } = await identityApi.getBackstageIdentity();
    const { items } = await catalogApi.getEntities({
      filter: { kind: 'Component', 'relations.ownedBy': ownershipEntityRefs },
      fields: [
        'kind',
        'metadata.name',
        'metadata.namespace',
        'metadata.title',
        'spec.type',
        'spec.lifecycle',
      ],
      order: { field: 'metadata.name', order: 'asc' },
    });
    return items;
  }, [identityApi, catalogApi]);
  return (
    <EntityList
      entities={value}
      loading={loading}
      error={error}
      empty={
        <>
          Your teams own no components yet.{' '}
          <Link href="/create">Create one</Link> or{' '}
          <Link href="/catalog-import">register an existing repository</Link>.
        </>
      }
      detail={entity =>
        `${entity.spec?.type ?? ''} · ${entity.spec?.lifecycle ?? ''}`
      }
    />
  );
};

/** The golden paths: every software template, one click from scaffolding. */
export const GoldenPaths = () => {
  const catalogApi = useApi(catalogApiRef);
  const { value, loading, error } = useAsync(async () => {
    const { items } = await catalogApi.getEntities({
      filter: { kind: 'Template' },
      order: { field: 'metadata.title', order: 'asc' },
    });
    return items;
  }, [catalogApi]);
  if (loading) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!value?.length) return <Text>No templates are registered yet.</Text>;
  return (
    <Flex direction="column" gap="2">
      {value.map(template => (
        <Flex key={template.metadata.name} direction="column" gap="0">
          <Link
            href={`/create/templates/${
              template.metadata.namespace ?? 'default'
            }/${template.metadata.name}`}
          >
            {template.metadata.title ?? template.metadata.name}
          </Link>
          <Text variant="body-small" color="secondary">
            {template.metadata.description}
          </Text>
        </Flex>
      ))}
    </Flex>
  );
};

/** Entities that publish TechDocs. */
export const Documentation = () => {
  const catalogApi = useApi(catalogApiRef);
  const { value, loading, error } = useAsync(async () => {
    const { items } = await catalogApi.getEntities({
      filter: {
        'metadata.annotations.backstage.io/techdocs-ref': CATALOG_FILTER_EXISTS,
      },
      fields: [
        'kind',
        'metadata.name',
        'metadata.namespace',
        'metadata.title',
        'metadata.description',
      ],
      limit: 8,
    });
    return items;
  }, [catalogApi]);
  return (
    <EntityList
      entities={value}
      loading={loading}
      error={error}
      empty={
        <>
          No documentation yet: add{' '}
          <code>backstage.io/techdocs-ref: dir:.</code> to a catalog-info.yaml
          next to a mkdocs.yml. <Link href="/docs">All docs</Link>
        </>
      }
      detail={entity => entity.metadata.description ?? ''}
    />
  );
};
