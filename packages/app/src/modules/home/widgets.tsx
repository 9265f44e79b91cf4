import { useApi, identityApiRef } from '@backstage/frontend-plugin-api';
import { catalogApiRef, EntityRefLink } from '@backstage/plugin-catalog-react';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { CATALOG_FILTER_EXISTS, CatalogApi } from '@backstage/catalog-client';
import { Flex, Link, Text } from '@backstage/ui';
import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import useAsync from 'react-use/esm/useAsync';
import { ReactNode, useCallback } from 'react';

/** Loads entities from the catalog and shows one row each, or a progress bar, an error, or `empty`. */
function CatalogList(props: {
  load: (catalogApi: CatalogApi) => Promise<Entity[]>;
  empty: ReactNode;
  row: (entity: Entity) => ReactNode;
}) {
  const catalogApi = useApi(catalogApiRef);
  const { load } = props;
  const { value, loading, error } = useAsync(
    () => load(catalogApi),
    [catalogApi, load],
  );
  if (loading) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!value?.length) return <Text>{props.empty}</Text>;
  return (
    <Flex direction="column" gap="2">
      {value.map(entity => (
        <Flex key={stringifyEntityRef(entity)} justify="between" align="center">
          {props.row(entity)}
        </Flex>
      ))}
    </Flex>
  );
}

const linkWithDetail =
  (detail: (entity: Entity) => string) => (entity: Entity) =>
    (
      <>
        <EntityRefLink entityRef={entity} />
        <Text variant="body-small" color="secondary">
          {detail(entity)}
        </Text>
      </>
    );

const listFields = [
  'kind',
  'metadata.name',
  'metadata.namespace',
  'metadata.title',
];

/** The components owned by the signed-in user and their teams: what a developer opens Portico for. */
export const MyTeamServices = () => {
  const identityApi = useApi(identityApiRef);
  const load = useCallback(
    async (catalogApi: CatalogApi) => {
      const { ownershipEntityRefs } = await identityApi.getBackstageIdentity();
      const { items } = await catalogApi.getEntities({
        filter: { kind: 'Component', 'relations.ownedBy': ownershipEntityRefs },
        fields: [...listFields, 'spec.type', 'spec.lifecycle'],
        order: { field: 'metadata.name', order: 'asc' },
      });
      return items;
    },
    [identityApi],
  );
  return (
    <CatalogList
      load={load}
      empty={
        <>
          Your teams own no components yet.{' '}
          <Link href="/create">Create one</Link> or{' '}
          <Link href="/catalog-import">register an existing repository</Link>.
        </>
      }
      row={linkWithDetail(
        e => `${e.spec?.type ?? ''} · ${e.spec?.lifecycle ?? ''}`,
      )}
    />
  );
};

async function loadTemplates(catalogApi: CatalogApi) {
  const { items } = await catalogApi.getEntities({
    filter: { kind: 'Template' },
    order: { field: 'metadata.title', order: 'asc' },
  });
  return items;
}

/** The golden paths: every software template, one click from scaffolding. */
export const GoldenPaths = () => (
  <CatalogList
    load={loadTemplates}
    empty="No templates are registered yet."
    row={template => (
      <Flex direction="column" gap="0">
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
    )}
  />
);

async function loadDocumented(catalogApi: CatalogApi) {
  const { items } = await catalogApi.getEntities({
    filter: {
      'metadata.annotations.backstage.io/techdocs-ref': CATALOG_FILTER_EXISTS,
    },
    fields: [...listFields, 'metadata.description'],
    limit: 8,
  });
  return items;
}

/** Entities that publish TechDocs. */
export const Documentation = () => (
  <CatalogList
    load={loadDocumented}
    empty={
      <>
        No documentation yet: add <code>backstage.io/techdocs-ref: dir:.</code>{' '}
        to a catalog-info.yaml next to a mkdocs.yml.{' '}
        <Link href="/docs">All docs</Link>
      </>
    }
    row={linkWithDetail(e => e.metadata.description ?? '')}
  />
);
