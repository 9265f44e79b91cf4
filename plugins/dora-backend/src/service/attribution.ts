import { AuthService } from '@backstage/backend-plugin-api';
import {
  Entity,
  parseEntityRef,
  RELATION_OWNED_BY,
  RELATION_PART_OF,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { Attribution } from '../database/records';
import { Subject } from '../sources/types';

const CACHE_MS = 60_000;
const FIELDS = [
  'kind',
  'metadata.namespace',
  'metadata.name',
  'spec.owner',
  'spec.system',
  'relations',
];

export const subjectKey = (subject: Subject) =>
  'entityRef' in subject
    ? `entityRef=${subject.entityRef}`
    : `${subject.annotation}=${subject.value}`;

/**
 * Finds the catalog entity an event belongs to, with its owner and system as they are now, so that
 * a later change of owner does not rewrite history. Answers are cached for a minute: a burst of
 * deliveries for one repository asks the catalog once.
 */
export class CatalogAttributor {
  private readonly cache = new Map<
    string,
    { at: number; value: Promise<Attribution> }
  >();

  constructor(
    private readonly catalog: CatalogService,
    private readonly auth: AuthService,
  ) {}

  attribute(subject: Subject): Promise<Attribution> {
    const key = subjectKey(subject);
    const cached = this.cache.get(key);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
    const value = this.lookUp(subject).then(entity =>
      entity ? { key, ...describe(entity) } : { key },
    );
    // A failed lookup is not remembered.
    value.catch(() => this.cache.delete(key));
    this.cache.set(key, { at: Date.now(), value });
    return value;
  }

  private async lookUp(subject: Subject): Promise<Entity | undefined> {
    const credentials = await this.auth.getOwnServiceCredentials();
    if ('entityRef' in subject) {
      let ref: string;
      try {
        ref = stringifyEntityRef(
          parseEntityRef(subject.entityRef, { defaultKind: 'component' }),
        );
      } catch {
        return undefined;
      }
      const { items } = await this.catalog.getEntitiesByRefs(
        { entityRefs: [ref], fields: FIELDS },
        { credentials },
      );
      return items[0] ?? undefined;
    }
    const { items } = await this.catalog.getEntities(
      {
        filter: {
          [`metadata.annotations.${subject.annotation}`]: subject.value,
        },
        fields: FIELDS,
      },
      { credentials },
    );
    // A repository can hold several entities; a component is what deploys.
    return items.find(e => e.kind.toLowerCase() === 'component') ?? items[0];
  }
}

function describe(entity: Entity): Omit<Attribution, 'key'> {
  const related = (type: string, kind?: string) =>
    entity.relations?.find(
      r =>
        r.type === type && (!kind || parseEntityRef(r.targetRef).kind === kind),
    )?.targetRef;
  return {
    entityRef: stringifyEntityRef(entity),
    ownerRef: related(RELATION_OWNED_BY),
    systemRef: related(RELATION_PART_OF, 'system'),
  };
}
