import { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import {
  Entity,
  RELATION_OWNED_BY,
  RELATION_PART_OF,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { createHash } from 'node:crypto';
import { DoraStore } from '../database/DatabaseDoraStore';
import { DAY_MS } from '../database/days';
import {
  Attribution,
  ChangeRecord,
  DeploymentRecord,
  IncidentRecord,
} from '../database/records';

const HOUR_MS = 3_600_000;
export const DEMO_DAYS = 180;

/** A small seeded generator, so that each service's history is the same on every machine and start. */
function random(seed: string) {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How a team delivers: deployments per working day, lead time, failure and recovery. */
interface Profile {
  deploysPerDay: number;
  leadTimeHours: number;
  failureRate: number;
  recoveryHours: number;
}

const PROFILES: Profile[] = [
  {
    deploysPerDay: 2.5,
    leadTimeHours: 6,
    failureRate: 0.04,
    recoveryHours: 0.7,
  },
  {
    deploysPerDay: 0.8,
    leadTimeHours: 40,
    failureRate: 0.12,
    recoveryHours: 5,
  },
  {
    deploysPerDay: 0.25,
    leadTimeHours: 120,
    failureRate: 0.2,
    recoveryHours: 20,
  },
];

/**
 * One service's history from `fromDay` (epoch days) to `toDay`, exclusive: deployments on working days
 * with the changes they shipped, incidents some of them caused, and rollbacks or fixes. Ids are made of
 * the day and position, so generating a day twice stores it once.
 */
export function demoHistory(
  attribution: Attribution,
  fromDay: number,
  toDay: number,
) {
  const deployments: DeploymentRecord[] = [];
  const changes: ChangeRecord[] = [];
  const incidents: IncidentRecord[] = [];
  const entity = attribution.entityRef as string;
  const pick = random(entity)();
  const profile = PROFILES[pick < 0.4 ? 0 : Math.min(2, Math.floor(pick * 3))];
  // Teams get better over the half year: lead time and failures shrink by up to a third.
  for (let day = fromDay; day < toDay; day++) {
    const weekday = (day + 4) % 7; // 0 is Sunday
    if (weekday === 0 || weekday === 6) continue;
    const next = random(`${entity}:${day}`);
    const progress = (day - (toDay - DEMO_DAYS)) / DEMO_DAYS;
    const improvement = 1 - Math.max(0, Math.min(1, progress)) / 3;
    const count = Math.floor(profile.deploysPerDay * 2 * next());
    for (let n = 0; n < count; n++) {
      const id = `demo-${entity}-${day}-${n}`;
      const finishedAt = Math.round(day * DAY_MS + (9 + 8 * next()) * HOUR_MS);
      if (finishedAt > Date.now()) break;
      const commits = 1 + Math.floor(next() * 4);
      for (let c = 0; c < commits; c++) {
        const lead = profile.leadTimeHours * improvement * (0.2 + 1.6 * next());
        const firstCommitAt = Math.round(finishedAt - lead * HOUR_MS);
        changes.push({
          source: 'demo',
          externalId: `${id}-c${c}`,
          attribution,
          firstCommitAt,
          mergedAt:
            firstCommitAt +
            (finishedAt - firstCommitAt) * (0.6 + 0.35 * next()),
          demo: true,
        });
      }
      deployments.push({
        source: 'demo',
        externalId: id,
        attribution,
        environment: 'production',
        production: true,
        succeeded: true,
        finishedAt,
        demo: true,
      });
      if (next() < profile.failureRate * improvement) {
        const detectedAt = Math.round(finishedAt + (0.1 + next()) * HOUR_MS);
        const recovery = Math.round(
          profile.recoveryHours * (0.3 + 1.4 * next()) * HOUR_MS,
        );
        incidents.push({
          source: 'demo',
          externalId: `${id}-incident`,
          attribution,
          title: 'Error rate above SLO after deployment',
          detectedAt,
          // Today's incidents may still be open.
          resolvedAt:
            detectedAt + recovery < Date.now()
              ? detectedAt + recovery
              : undefined,
          demo: true,
        });
        if (next() < 0.5 && detectedAt + recovery < Date.now()) {
          deployments.push({
            source: 'demo',
            externalId: `${id}-fix`,
            attribution,
            environment: 'production',
            production: true,
            succeeded: true,
            finishedAt: Math.round(detectedAt + recovery * 0.9),
            rollback: next() < 0.5,
            unplannedFix: true,
            demo: true,
          });
        }
      }
    }
  }
  return { deployments, changes, incidents };
}

/**
 * Fills a demo history for the catalog's production components, up to today: on a first start the
 * whole half year, afterwards the days since the last run.
 */
export async function seedDemoHistory(options: {
  store: DoraStore;
  catalog: CatalogService;
  auth: AuthService;
  logger: LoggerService;
}) {
  const { store, catalog, auth, logger } = options;
  const { items } = await catalog.getEntities(
    {
      filter: { kind: 'component', 'spec.lifecycle': 'production' },
      fields: ['kind', 'metadata.namespace', 'metadata.name', 'relations'],
    },
    { credentials: await auth.getOwnServiceCredentials() },
  );
  const today = Math.floor(Date.now() / DAY_MS);
  const seeded = await store.lastDemoDays();
  let deployments = 0;
  for (const entity of items) {
    const attribution = demoAttribution(entity);
    const from =
      seeded.get(attribution.entityRef as string) ?? today - DEMO_DAYS;
    if (from > today) continue;
    const history = demoHistory(attribution, from, today + 1);
    await store.ingest(history);
    deployments += history.deployments.length;
  }
  if (deployments > 0) {
    logger.info(
      `DORA demo history: ${deployments} deployments for ${items.length} components`,
    );
  }
}

function demoAttribution(entity: Entity): Attribution {
  const ref = stringifyEntityRef(entity);
  const related = (type: string) =>
    entity.relations?.find(
      r =>
        r.type === type &&
        (type !== RELATION_PART_OF || r.targetRef.startsWith('system:')),
    )?.targetRef;
  return {
    entityRef: ref,
    ownerRef: related(RELATION_OWNED_BY),
    systemRef: related(RELATION_PART_OF),
    key: `entityRef=${ref}`,
  };
}
