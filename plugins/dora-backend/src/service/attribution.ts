import { AuthService } from '@backstage/backend-plugin-api';
import {
  Entity,
  parseEntityRef,
  RELATION_OWNED_BY,
  RELATION_PART_OF,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { chunks } from '../database/links';
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

/** More cached answers than this and the stale ones are dropped. */
const CACHE_LIMIT = 50_000;

/**
 * Finds the catalog entities events belong to, with their owner and system as they are now, so that a
 * later change of owner does not rewrite history. A batch asks the catalog once per kind of subject, and
 * answers (misses too) are cached for a minute; batches arriving together wait for the lookup already
 * under way for a subject instead of asking again: a burst of deliveries for one repository asks once.
 */
export class CatalogAttributor {
  private readonly cache = new Map<
    string,
    { at: number; value: Attribution }
  >();
  private readonly lookingUp = new Map<
    string,
    Promise<Map<string, Attribution>>
  >();

  constructor(
    private readonly catalog: CatalogService,
    private readonly auth: AuthService,
  ) {}

  async attributeAll(subjects: Subject[]): Promise<Map<string, Attribution>> {
    const now = Date.now();
    const result = new Map<string, Attribution>();
    const missing = new Map<string, Subject>();
    const underWay = new Map<string, Promise<Map<string, Attribution>>>();
    for (const subject of subjects) {
      const key = subjectKey(subject);
      const cached = this.cache.get(key);
      const lookup = this.lookingUp.get(key);
      if (cached && now - cached.at < CACHE_MS) result.set(key, cached.value);
      else if (lookup) underWay.set(key, lookup);
      else missing.set(key, subject);
    }
    const own = missing.size > 0 ? this.lookUpAndCache(missing) : undefined;
    // Awaited together, so that a failed lookup is never left unhandled.
    const answers = await Promise.all([...underWay.values(), own]);
    for (const answer of answers) {
      for (const [key, value] of answer ?? []) {
        if (missing.has(key) || underWay.has(key)) result.set(key, value);
      }
    }
    return result;
  }

  private async lookUpAndCache(
    missing: Map<string, Subject>,
  ): Promise<Map<string, Attribution>> {
    const lookup = this.lookUp([...missing.values()]).then(found => {
      const now = Date.now();
      if (this.cache.size > CACHE_LIMIT) {
        for (const [key, entry] of this.cache) {
          if (now - entry.at >= CACHE_MS) this.cache.delete(key);
        }
      }
      const answered = new Map<string, Attribution>();
      for (const key of missing.keys()) {
        const entity = found.get(key);
        const value: Attribution = entity
          ? { key, ...describe(entity) }
          : { key };
        this.cache.set(key, { at: now, value });
        answered.set(key, value);
      }
      return answered;
    });
    for (const key of missing.keys()) this.lookingUp.set(key, lookup);
    try {
      return await lookup;
    } finally {
      for (const key of missing.keys()) {
        if (this.lookingUp.get(key) === lookup) this.lookingUp.delete(key);
      }
    }
  }

  /** The entity of each subject, by subject key: one catalog request per annotation name, one for refs. */
  private async lookUp(subjects: Subject[]): Promise<Map<string, Entity>> {
    const credentials = await this.auth.getOwnServiceCredentials();
    const found = new Map<string, Entity>();
    const refs = new Map<string, string>();
    const byAnnotation = new Map<string, string[]>();
    for (const subject of subjects) {
      if ('entityRef' in subject) {
        try {
          refs.set(
            stringifyEntityRef(
              parseEntityRef(subject.entityRef, { defaultKind: 'component' }),
            ),
            subjectKey(subject),
          );
        } catch {
          // Not an entity ref: the event stays unattributed, under what it named.
        }
      } else {
        const values = byAnnotation.get(subject.annotation) ?? [];
        values.push(subject.value);
        byAnnotation.set(subject.annotation, values);
      }
    }
    if (refs.size > 0) {
      const { items } = await this.catalog.getEntitiesByRefs(
        { entityRefs: [...refs.keys()], fields: FIELDS },
        { credentials },
      );
      for (const entity of items) {
        const key = entity && refs.get(stringifyEntityRef(entity));
        if (entity && key) found.set(key, entity);
      }
    }
    // The filter travels in the query string: a few hundred values a request keep it short.
    const requests = [...byAnnotation].flatMap(([annotation, values]) =>
      chunks(values, 200).map(part => [annotation, part] as const),
    );
    for (const [annotation, values] of requests) {
      const { items } = await this.catalog.getEntities(
        {
          filter: { [`metadata.annotations.${annotation}`]: values },
          fields: [...FIELDS, `metadata.annotations.${annotation}`],
        },
        { credentials },
      );
      // A repository can hold several entities; a component is what deploys.
      const ranked = [...items].sort(
        (a, b) =>
          Number(b.kind === 'Component') - Number(a.kind === 'Component'),
      );
      for (const entity of ranked) {
        const value = entity.metadata.annotations?.[annotation];
        const key = value && subjectKey({ annotation, value });
        if (key && !found.has(key)) found.set(key, entity);
      }
    }
    return found;
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
