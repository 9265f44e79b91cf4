import { AuthService } from '@backstage/backend-plugin-api';
import {
  parseEntityRef,
  RELATION_PARENT_OF,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { DoraScope } from '@internal/plugin-dora-common';
import { ScopeFilter } from '../database/metrics';

/** Groups deeper than this are not followed: a cycle in the org data must not hang a request. */
const MAX_GROUP_DEPTH = 20;

const normalize = (ref: string, defaultKind: string) =>
  stringifyEntityRef(parseEntityRef(ref, { defaultKind }));

/** The rows a scope covers: a group's figures include its child groups, as they are in the catalog now. */
export async function resolveScope(
  scope: DoraScope,
  catalog: CatalogService,
  auth: AuthService,
): Promise<ScopeFilter> {
  const filter: ScopeFilter = {};
  if (scope.entityRef)
    filter.entityRefs = [normalize(scope.entityRef, 'component')];
  if (scope.systemRef) filter.systemRef = normalize(scope.systemRef, 'system');
  if (scope.groupRef) {
    const root = normalize(scope.groupRef, 'group');
    const credentials = await auth.getOwnServiceCredentials();
    const seen = new Set([root]);
    let level = [root];
    for (let depth = 0; level.length > 0 && depth < MAX_GROUP_DEPTH; depth++) {
      const { items } = await catalog.getEntitiesByRefs(
        { entityRefs: level, fields: ['relations'] },
        { credentials },
      );
      level = items
        .flatMap(group => group?.relations ?? [])
        .filter(r => r.type === RELATION_PARENT_OF && !seen.has(r.targetRef))
        .map(r => r.targetRef);
      level.forEach(ref => seen.add(ref));
    }
    filter.ownerRefs = [...seen];
  }
  return filter;
}
