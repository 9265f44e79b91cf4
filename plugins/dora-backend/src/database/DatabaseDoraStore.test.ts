import { mockServices, TestDatabaseId } from '@backstage/backend-test-utils';
import { DORA_BENCHMARKS } from '@internal/plugin-dora-common';
import { createPorticoTestDatabases } from '@internal/portico-backend-test-utils';
import { summarize } from '../service/summarize';
import { Knex } from 'knex';
import { DatabaseDoraStore } from './DatabaseDoraStore';
import { MetricQueries } from './metrics';
import {
  ChangeRecord,
  DeploymentRecord,
  IncidentRecord,
  IngestBatch,
} from './records';

jest.setTimeout(60_000);

const databases = createPorticoTestDatabases();

const HOUR = 3600;
const at = (iso: string) => Date.parse(iso);
const checkout = {
  entityRef: 'component:default/checkout',
  ownerRef: 'group:default/payments',
  systemRef: 'system:default/shop',
  key: 'github.com/project-slug=acme/checkout',
};

function deployment(
  id: string,
  finishedAt: string,
  extra: Partial<DeploymentRecord> = {},
): DeploymentRecord {
  return {
    source: 'api',
    externalId: id,
    attribution: checkout,
    environment: 'production',
    production: true,
    succeeded: true,
    finishedAt: at(finishedAt),
    ...extra,
  };
}

function change(
  sha: string,
  firstCommitAt: string,
  mergedAt: string,
  extra: Partial<ChangeRecord> = {},
): ChangeRecord {
  return {
    source: 'github',
    sha,
    attribution: checkout,
    firstCommitAt: at(firstCommitAt),
    mergedAt: at(mergedAt),
    ...extra,
  };
}

function incident(
  id: string,
  detectedAt: string,
  resolvedAt?: string,
  extra: Partial<IncidentRecord> = {},
): IncidentRecord {
  return {
    source: 'pagerduty',
    externalId: id,
    attribution: checkout,
    detectedAt: at(detectedAt),
    resolvedAt: resolvedAt ? at(resolvedAt) : undefined,
    ...extra,
  };
}

/**
 * Four weeks of one service, worked out by hand:
 * - d1 ships c1 (first commit 24 h, merge 2 h before it); d2 ships c2 (12 h, 1 h) and caused i1,
 *   resolved 4 h after d2; d3 ships c3 (48 h, 0.5 h) and is rolled back by d4 a day later;
 *   d5 ships nothing and caused i2, still open.
 * - 5 deployments, 3 failed (d2, d3, d5): change failure rate 0.6; recovered d2 in 4 h and d3 in 24 h:
 *   median 14 h; rework 1 rollback of 5: 0.2.
 * - Lead times 12, 24, 48 h: median 24 h, p90 24 + 0.8 × 24 = 43.2 h. Merge to deploy 0.5, 1, 2 h:
 *   median 1 h, p90 1.8 h.
 * - Deployment days per 7-day period back from Nov 28: Nov 1-7 two, 8-14 two, 15-21 one, 22-28 none:
 *   median 1.5, weekly.
 */
const history: IngestBatch = {
  deployments: [
    deployment('d1', '2026-11-02T10:00:00Z'),
    deployment('d2', '2026-11-04T10:00:00Z'),
    deployment('d3', '2026-11-10T10:00:00Z'),
    deployment('d4', '2026-11-11T10:00:00Z', { rollback: true }),
    deployment('d5', '2026-11-20T10:00:00Z'),
  ],
  changes: [
    change(
      'c1'.padEnd(40, '1'),
      '2026-11-01T10:00:00Z',
      '2026-11-02T08:00:00Z',
    ),
    change(
      'c2'.padEnd(40, '2'),
      '2026-11-03T22:00:00Z',
      '2026-11-04T09:00:00Z',
    ),
    change(
      'c3'.padEnd(40, '3'),
      '2026-11-08T10:00:00Z',
      '2026-11-10T09:30:00Z',
    ),
  ],
  incidents: [
    incident('i1', '2026-11-04T12:00:00Z', '2026-11-04T14:00:00Z'),
    incident('i2', '2026-11-21T00:00:00Z'),
  ],
};

const november = {
  from: at('2026-11-01T00:00:00Z'),
  to: at('2026-11-29T00:00:00Z'),
};

/** A store on `knex`, as a backend (or each replica of one) starts it. */
function storeOn(knex: Knex, timeZone = 'UTC') {
  return DatabaseDoraStore.create({
    database: mockServices.database({ knex }),
    timeZone,
  });
}

async function createStore(databaseId: TestDatabaseId, timeZone = 'UTC') {
  return storeOn(await databases.init(databaseId), timeZone);
}

async function figures(
  store: Pick<MetricQueries, 'summary'>,
  window = november,
  filter = {},
) {
  return summarize({
    raw: await store.summary(filter, window),
    scope: {},
    window,
    timeZone: 'UTC',
    benchmark: DORA_BENCHMARKS[0],
  });
}

/** Every event of a batch as its own delivery, in the order given. */
function oneByOne(batch: IngestBatch, order: (n: number) => number[]) {
  const events: IngestBatch[] = [
    ...(batch.deployments ?? []).map(d => ({ deployments: [d] })),
    ...(batch.changes ?? []).map(c => ({ changes: [c] })),
    ...(batch.incidents ?? []).map(i => ({ incidents: [i] })),
  ];
  return order(events.length).map(i => events[i]);
}

describe('DatabaseDoraStore', () => {
  it.each(databases.eachSupportedId())(
    'computes the five metrics of a hand-worked history (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      await store.ingest(history);
      const summary = await figures(store);

      expect(summary.deploymentFrequency).toMatchObject({
        deployments: 5,
        medianDeployDaysPerWeek: 1.5,
        bucket: 'weekly',
        classification: { level: 'high', benchmark: '2024' },
      });
      expect(summary.deploymentFrequency.perWeek).toBeCloseTo(1.25);
      expect(summary.leadTime).toMatchObject({
        changes: 3,
        medianSeconds: 24 * HOUR,
        droppedNonPositive: 0,
        classification: { level: 'elite' },
      });
      expect(summary.leadTime.p90Seconds).toBeCloseTo(43.2 * HOUR);
      expect(summary.leadTime.mergeToDeploy.medianSeconds).toBe(HOUR);
      expect(summary.leadTime.mergeToDeploy.p90Seconds).toBeCloseTo(1.8 * HOUR);
      expect(summary.changeFailureRate).toMatchObject({
        deployments: 5,
        failed: 3,
        rate: 0.6,
        classification: { level: 'low' },
      });
      expect(summary.recoveryTime).toMatchObject({
        failed: 3,
        recovered: 2,
        medianSeconds: 14 * HOUR,
        classification: { level: 'high' },
      });
      expect(summary.reworkRate).toMatchObject({
        unplannedFixes: 1,
        rate: 0.2,
      });
      expect(summary.reworkRate.classification).toBeUndefined();
      expect(summary.dataQuality).toEqual({
        deployments: 5,
        deploymentsWithChanges: 3,
        incidents: 2,
        incidentsLinkedToDeployment: 2,
        unattributedEvents: 0,
      });
      expect(summary.trend.map(w => w.leadTimeMedianSeconds)).toEqual([
        undefined,
        18 * HOUR,
        48 * HOUR,
        undefined,
        undefined,
      ]);
      expect(summary.trend.map(w => [w.weekStart, w.deployments])).toEqual([
        ['2026-10-26', 0],
        ['2026-11-02', 2],
        ['2026-11-09', 2],
        ['2026-11-16', 1],
        ['2026-11-23', 0],
      ]);
    },
  );

  it.each(databases.eachSupportedId())(
    'relinks at start what a stopped backend had stored but not yet relinked (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const start = () => storeOn(knex);
      const before = await start();
      await before.ingest(history);
      const expected = await figures(before);
      // As a backend leaves it when it stops between a write's commit and its relinking: the rows and
      // the queued work are stored, the derived links are not.
      await knex('dora_changes').update({
        deployment_id: null,
        deployed_at: null,
        deployed_day: null,
      });
      await knex('dora_incidents').update({ deployment_id: null });
      await knex('dora_deployments').update({
        failed: false,
        recovered_at: null,
        rollback_of: null,
      });
      const ids = async (table: string) =>
        (await knex(table).select('id')).map(row => Number(row.id));
      await knex('dora_relink_queue').insert({
        work: JSON.stringify({
          ranges: [
            {
              entityRef: checkout.entityRef,
              from: november.from,
              to: november.to,
            },
          ],
          deploymentIds: await ids('dora_deployments'),
          changeIds: await ids('dora_changes'),
          incidentIds: await ids('dora_incidents'),
        }),
      });
      const unlinked = await figures(new MetricQueries(knex, 'UTC'));
      expect(unlinked.leadTime.changes).toBe(0);
      expect(expected.leadTime.changes).toBe(3);

      const after = await start();
      expect(await figures(after)).toEqual(expected);
      const [{ n: queued }] = await knex('dora_relink_queue').count({ n: '*' });
      expect(Number(queued)).toBe(0);
    },
  );

  it.each(databases.eachSupportedId())(
    'gives empty figures and no level when nothing was deployed (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      const summary = await figures(store);
      expect(summary.deploymentFrequency).toMatchObject({
        deployments: 0,
        bucket: 'lower',
      });
      expect(summary.deploymentFrequency.classification).toBeUndefined();
      expect(summary.leadTime.medianSeconds).toBeUndefined();
      expect(summary.changeFailureRate.rate).toBeUndefined();
      expect(summary.recoveryTime.medianSeconds).toBeUndefined();
      expect(summary.trend).toHaveLength(5);
    },
  );

  it.each(databases.eachSupportedId())(
    'stores a delivery seen twice once, and arrives at the same figures in any order (%p)',
    async databaseId => {
      const inOrder = await createStore(databaseId);
      await inOrder.ingest(history);
      await inOrder.ingest(history);
      const expected = await figures(inOrder);
      expect(expected.deploymentFrequency.deployments).toBe(5);

      for (const order of [
        (n: number) => [...Array(n).keys()].reverse(),
        // incidents first, then changes, then deployments, each reversed, then everything again
        (n: number) => [...[...Array(n).keys()].reverse(), ...Array(n).keys()],
      ]) {
        const shuffled = await createStore(databaseId);
        for (const delivery of oneByOne(history, order)) {
          await shuffled.ingest(delivery);
        }
        expect(await figures(shuffled)).toEqual(expected);
      }
    },
  );

  it.each(databases.eachSupportedId())(
    'moves an incident and a rollback to deployments delivered late, and clears the ones before (%p)',
    async databaseId => {
      const outage = incident(
        'outage',
        '2026-11-04T12:00:00Z',
        '2026-11-04T14:00:00Z',
      );
      const undo = deployment('undo', '2026-11-09T10:00:00Z', {
        rollback: true,
      });
      const store = await createStore(databaseId);
      // Until the late ones arrive, `before` caused the outage and `early` was rolled back.
      await store.ingest({
        deployments: [
          deployment('before', '2026-11-02T10:00:00Z'),
          deployment('early', '2026-11-07T10:00:00Z'),
          undo,
        ],
        incidents: [outage],
      });
      expect((await figures(store)).changeFailureRate).toMatchObject({
        failed: 2,
        deployments: 3,
      });
      await store.ingest({
        deployments: [
          deployment('late', '2026-11-04T10:00:00Z'),
          deployment('shaky', '2026-11-08T10:00:00Z'),
        ],
      });
      const { changeFailureRate, recoveryTime } = await figures(store);
      // `late` caused the outage (recovered in 4 h) and `shaky` was rolled back (in 24 h).
      expect(changeFailureRate).toMatchObject({ failed: 2, deployments: 5 });
      expect(recoveryTime).toMatchObject({
        failed: 2,
        recovered: 2,
        medianSeconds: 14 * HOUR,
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'links a fix delivered before the deployment it fixes (%p)',
    async databaseId => {
      const bad = deployment('bad', '2026-11-02T10:00:00Z');
      const fix = deployment('fix', '2026-11-02T13:00:00Z', {
        fixOf: 'bad',
        unplannedFix: true,
      });
      const inOrder = await createStore(databaseId);
      await inOrder.ingest({ deployments: [bad] });
      await inOrder.ingest({ deployments: [fix] });
      const expected = await figures(inOrder);
      expect(expected.changeFailureRate).toMatchObject({ failed: 1 });
      expect(expected.recoveryTime.medianSeconds).toBe(3 * HOUR);

      const fixFirst = await createStore(databaseId);
      await fixFirst.ingest({ deployments: [fix] });
      await fixFirst.ingest({ deployments: [bad] });
      expect(await figures(fixFirst)).toEqual(expected);
    },
  );

  const sha = 'a'.repeat(40);
  const commits = [{ sha, committedAt: at('2026-11-05T12:00:00Z') }];
  const retry = deployment('retry', '2026-11-06T12:00:00Z', { commits });
  const first = deployment('first', '2026-11-06T00:00:00Z', { commits });

  /** How the change was counted: lead time, deployments with changes, each deployment's changes. */
  async function shipping(store: DatabaseDoraStore) {
    const summary = await figures(store);
    const { rows } = await store.listDeployments({
      filter: {},
      window: november,
      limit: 10,
      offset: 0,
    });
    return {
      changes: summary.leadTime.changes,
      medianSeconds: summary.leadTime.medianSeconds,
      deploymentsWithChanges: summary.dataQuality.deploymentsWithChanges,
      perDeployment: rows.map((row: Record<string, unknown>) => [
        row.external_id,
        Number(row.changes),
      ]),
    };
  }
  const shippedByFirst = {
    changes: 1,
    medianSeconds: 12 * HOUR,
    deploymentsWithChanges: 1,
    perDeployment: [
      ['retry', 0],
      ['first', 1],
    ],
  };

  it.each(databases.eachSupportedId())(
    'counts a change shipped by two deployments once, by the first (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      // The later deployment arrives first and ships the change until the earlier one is delivered.
      await store.ingest({ deployments: [retry] });
      expect((await figures(store)).leadTime.medianSeconds).toBe(24 * HOUR);
      await store.ingest({ deployments: [first] });
      expect(await shipping(store)).toEqual(shippedByFirst);
    },
  );

  it.each(databases.eachSupportedId())(
    'links a new change to the first of the new deployments of one batch that name it (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      const failedEarlier = deployment('failed', '2026-11-05T18:00:00Z', {
        commits,
        succeeded: false,
      });
      await store.ingest({ deployments: [retry, failedEarlier, first] });
      expect(await shipping(store)).toEqual({
        ...shippedByFirst,
        perDeployment: [...shippedByFirst.perDeployment, ['failed', 0]],
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'reads the kept lead times of a day again once a write moved a change into or out of it (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const store = await storeOn(knex);
      // Each window ends a millisecond later than the last, so that no kept summary answers: only the
      // kept days do. Both edges cut a day, which is read afresh.
      let to = at('2026-11-28T06:00:00Z');
      const fromScratch = async (filter = {}) => {
        to += 1;
        const window = { from: at('2026-11-01T06:00:00Z'), to };
        const summary = await store.summary(filter, window);
        expect(summary).toEqual(
          await new MetricQueries(knex, 'UTC').summary(filter, window),
        );
        return summary;
      };
      const late = deployment('late', '2026-11-09T12:00:00Z', { commits });
      const early = deployment('early', '2026-11-06T00:00:00Z', { commits });
      await store.ingest({ deployments: [late] });
      expect((await fromScratch()).leadTime.p50).toBe(96 * HOUR);
      expect(
        (await fromScratch({ systemRef: checkout.systemRef })).leadTime.p50,
      ).toBe(96 * HOUR);

      // The change moves from 9 November to 6 November.
      await store.ingest({ deployments: [early] });
      expect((await fromScratch()).leadTime).toEqual({
        count: 1,
        p50: 12 * HOUR,
        p90: 12 * HOUR,
      });
      // A pushed commit is shipped by the deployment of 9 November (12 h); the merged pull request of
      // the first change tells an earlier first commit (24 h) and its merge.
      await store.ingest({
        changes: [
          change(
            'd'.repeat(40),
            '2026-11-09T00:00:00Z',
            '2026-11-09T06:00:00Z',
          ),
          change(sha, '2026-11-05T00:00:00Z', '2026-11-05T21:00:00Z'),
        ],
      });
      const after = await fromScratch({ entityRefs: [checkout.entityRef] });
      expect(after.leadTime).toMatchObject({ count: 2, p50: 18 * HOUR });
      expect(after.mergeToDeploy).toMatchObject({ count: 2, p50: 4.5 * HOUR });
      expect((await fromScratch()).weeks.map(w => w.leadTime.p50)).toEqual([
        undefined,
        24 * HOUR,
        12 * HOUR,
        undefined,
        undefined,
      ]);
    },
  );

  it.each(databases.eachSupportedId())(
    'reads a day written beside the store again once the store next writes (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const store = await storeOn(knex);
      let to = at('2026-11-28T06:00:00Z');
      const window = () => ({ from: at('2026-11-01T06:00:00Z'), to: ++to });
      await store.ingest({
        deployments: [deployment('late', '2026-11-09T12:00:00Z', { commits })],
      });
      expect(await store.summary({}, window())).toMatchObject({
        deployments: 1,
        unplannedFixes: 0,
        leadTime: { p50: 96 * HOUR },
      });

      // Written behind the store's back, as a data migration would: kept as it was until the store writes.
      await knex('dora_deployments').update({ unplanned_fix: true });
      await knex('dora_changes').update({
        first_commit_at: at('2026-11-04T12:00:00Z'),
      });
      expect(await store.summary({}, window())).toMatchObject({
        deployments: 1,
        unplannedFixes: 0,
        leadTime: { p50: 96 * HOUR },
      });

      // The store's next write, from any replica and to any day, moves the days noted beside it on.
      await store.ingest({
        deployments: [deployment('again', '2026-11-20T18:00:00Z')],
      });
      const after = window();
      const summary = await store.summary({}, after);
      expect(summary).toMatchObject({
        deployments: 2,
        unplannedFixes: 1,
        leadTime: { p50: 120 * HOUR },
      });
      expect(summary).toEqual(
        await new MetricQueries(knex, 'UTC').summary({}, after),
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'answers a window of whole days from kept days alone (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const store = await storeOn(knex);
      await store.ingest({
        deployments: [deployment('late', '2026-11-09T12:00:00Z', { commits })],
      });
      const kept = await store.summary({}, november);
      // Before the window: the summary kept for it is dropped, none of its days is touched.
      await store.ingest({
        deployments: [deployment('before', '2026-10-01T00:00:00Z')],
      });
      const again = await store.summary({}, november);
      expect(again).toEqual(kept);
      expect(again).toEqual(
        await new MetricQueries(knex, 'UTC').summary({}, november),
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'stores batches for the same services sent at once as it stores them one after another (%p)',
    async databaseId => {
      const services = Array.from({ length: 30 }, (_, i) => ({
        ...checkout,
        entityRef: `component:default/svc-${i}`,
      }));
      const hour = (h: number) => at('2026-11-02T00:00:00Z') + h * HOUR * 1000;
      // Pushed commits over four days, then batches that each deploy every service once, interleaved.
      const pushes: IngestBatch = {
        changes: services.flatMap((attribution, s) =>
          Array.from({ length: 8 }, (_, k) => ({
            source: 'github',
            sha: `${s}-${k}`.padStart(40, 'e').replace(/-/g, 'f'),
            attribution,
            firstCommitAt: hour(12 * k),
            mergedAt: hour(12 * k + 1),
          })),
        ),
      };
      const batches: IngestBatch[] = Array.from({ length: 6 }, (_, b) => ({
        deployments: services.map((attribution, s) => ({
          ...deployment(`b${b}-s${s}`, '2026-11-02T00:00:00Z'),
          attribution,
          finishedAt: hour(2 + 18 * b + (s % 5)),
        })),
      }));
      // Two replicas on one database, each writing the batches it got together: they take turns.
      const knex = await databases.init(databaseId);
      const replica = () => storeOn(knex);
      // One after the other: both would run the migrations.
      const replicas = [await replica(), await replica()];
      const apart = await createStore(databaseId);
      await Promise.all([replicas[0], apart].map(s => s.ingest(pushes)));
      await Promise.all(
        batches.map((batch, b) => replicas[b % 2].ingest(batch)),
      );
      for (const batch of batches) await apart.ingest(batch);
      const [a, b] = await Promise.all(
        [replicas[1], apart].map(store => figures(store)),
      );
      expect(a).toEqual(b);
      expect(a.leadTime.changes).toBe(30 * 8);
    },
  );

  it.each(databases.eachSupportedId())(
    'merges the halves of unattributed incidents that two replicas store at once (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const replicas = [await storeOn(knex), await storeOn(knex)];
      const unknown = { key: 'pagerduty.com/service-id=PNOBODY' };
      const ids = Array.from({ length: 500 }, (_, i) => `u${i}`);
      await Promise.all([
        replicas[0].ingest({
          incidents: ids.map(id => ({
            ...incident(id, '2026-11-10T11:00:00Z'),
            attribution: unknown,
          })),
        }),
        replicas[1].ingest({
          incidents: ids.map(id => ({
            ...incident(id, '2026-11-10T11:00:00Z'),
            detectedAt: undefined,
            resolvedAt: at('2026-11-10T12:00:00Z'),
            attribution: unknown,
          })),
        }),
      ]);
      const rows = await knex('dora_incidents').select(
        'detected_at',
        'resolved_at',
      );
      expect(
        new Set(rows.map(r => `${r.detected_at} ${r.resolved_at}`)),
      ).toEqual(
        new Set([
          `${at('2026-11-10T11:00:00Z')} ${at('2026-11-10T12:00:00Z')}`,
        ]),
      );
      expect(rows).toHaveLength(500);
    },
  );

  it.each(databases.eachSupportedId())(
    'refuses only the wrong batch of those written together (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      const shippingOn = (day: number): IngestBatch => ({
        deployments: [
          deployment(`d${day}`, `2026-11-0${day}T10:00:00Z`, {
            commits: [
              {
                sha: String(day).repeat(40),
                committedAt: at(`2026-11-0${day}T08:00:00Z`),
              },
            ],
          }),
        ],
      });
      const wrong: IngestBatch = {
        changes: [
          { source: 'github', sha: 'f'.repeat(40), attribution: checkout },
        ],
      };
      // The first is written alone; the rest arrive during it and are written together.
      const results = await Promise.allSettled(
        [shippingOn(2), shippingOn(3), wrong, shippingOn(4)].map(batch =>
          store.ingest(batch),
        ),
      );
      expect(results).toEqual([
        ...[0, 1].map(() => ({
          status: 'fulfilled',
          value: { deployments: 1, changes: 1, incidents: 0 },
        })),
        {
          status: 'rejected',
          reason: new Error(
            `change sha:${'f'.repeat(
              40,
            )} has neither a commit nor a merge time`,
          ),
        },
        {
          status: 'fulfilled',
          value: { deployments: 1, changes: 1, incidents: 0 },
        },
      ]);
      const summary = await figures(store);
      expect(summary.deploymentFrequency.deployments).toBe(3);
      expect(summary.leadTime.changes).toBe(3);
    },
  );

  it.each(databases.eachSupportedId())(
    "answers from a replica's summary only until another replica writes (%p)",
    async databaseId => {
      const knex = await databases.init(databaseId);
      const replica = () => storeOn(knex);
      const reader = await replica();
      const writer = await replica();
      await writer.ingest({
        deployments: [deployment('one', '2026-11-02T10:00:00Z')],
      });
      expect((await figures(reader)).deploymentFrequency.deployments).toBe(1);
      expect((await figures(reader)).deploymentFrequency.deployments).toBe(1);
      await writer.ingest({
        deployments: [deployment('two', '2026-11-03T10:00:00Z')],
      });
      expect((await figures(reader)).deploymentFrequency.deployments).toBe(2);
    },
  );

  it.each(databases.eachSupportedId())(
    'drops and counts non-positive lead times (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      await store.ingest({
        deployments: [
          deployment('skewed', '2026-11-06T00:00:00Z', {
            // the commit's clock is ahead of the deployment's
            commits: [
              { sha: 'b'.repeat(40), committedAt: at('2026-11-06T01:00:00Z') },
            ],
          }),
        ],
      });
      const summary = await figures(store);
      expect(summary.leadTime).toMatchObject({
        changes: 0,
        droppedNonPositive: 1,
      });
      expect(summary.leadTime.medianSeconds).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    'counts a deployment that caused two incidents as one failure, recovered when both are resolved (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      await store.ingest({
        deployments: [deployment('d', '2026-11-10T10:00:00Z')],
        incidents: [
          incident('a', '2026-11-10T11:00:00Z', '2026-11-10T12:00:00Z'),
          incident('b', '2026-11-10T11:30:00Z', '2026-11-10T16:00:00Z'),
        ],
      });
      const summary = await figures(store);
      expect(summary.changeFailureRate).toMatchObject({ failed: 1, rate: 1 });
      expect(summary.recoveryTime.medianSeconds).toBe(6 * HOUR);
    },
  );

  it.each(databases.eachSupportedId())(
    'keeps a reopened incident open until a resolution after the reopening, whatever the order of deliveries (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      const reopened = (id: string, detectedAt: string, reopenedAt: string) =>
        incident(id, detectedAt, undefined, { reopenedAt: at(reopenedAt) });
      await store.ingest({
        deployments: [
          deployment('d1', '2026-11-10T10:00:00Z'),
          deployment('d2', '2026-11-20T10:00:00Z'),
        ],
      });
      // Each its own delivery. a in order: resolved at noon, reopened at one. b out of order: the
      // reopening first, then the resolution before it.
      for (const delivery of [
        incident('a', '2026-11-10T11:00:00Z', '2026-11-10T12:00:00Z'),
        reopened('a', '2026-11-10T11:00:00Z', '2026-11-10T13:00:00Z'),
        reopened('b', '2026-11-20T11:00:00Z', '2026-11-20T13:00:00Z'),
        incident('b', '2026-11-20T11:00:00Z', '2026-11-20T12:00:00Z'),
      ]) {
        await store.ingest({ incidents: [delivery] });
      }
      let summary = await figures(store);
      expect(summary.changeFailureRate).toMatchObject({ failed: 2 });
      expect(summary.recoveryTime).toMatchObject({ recovered: 0 });

      // Resolved after the reopenings; a late redelivery of the first resolution changes nothing.
      await store.ingest({
        incidents: [
          incident('a', '2026-11-10T11:00:00Z', '2026-11-10T15:00:00Z'),
          incident('b', '2026-11-20T11:00:00Z', '2026-11-20T16:00:00Z'),
        ],
      });
      await store.ingest({
        incidents: [
          incident('a', '2026-11-10T11:00:00Z', '2026-11-10T12:00:00Z'),
        ],
      });
      summary = await figures(store);
      expect(summary.recoveryTime).toMatchObject({
        recovered: 2,
        medianSeconds: 5.5 * HOUR,
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'keeps the owner an event had when it arrived (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      await store.ingest({
        deployments: [
          deployment('before', '2026-11-02T10:00:00Z'),
          deployment('after', '2026-11-03T10:00:00Z', {
            attribution: { ...checkout, ownerRef: 'group:default/platform' },
          }),
        ],
      });
      const payments = await store.summary(
        { ownerRefs: ['group:default/payments'] },
        november,
      );
      const platform = await store.summary(
        { ownerRefs: ['group:default/platform'] },
        november,
      );
      expect([payments.deployments, platform.deployments]).toEqual([1, 1]);
    },
  );

  it.each(databases.eachSupportedId())(
    'keeps and counts events that match no entity (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      const nobody = { key: 'github.com/project-slug=acme/unknown' };
      await store.ingest({
        deployments: [
          deployment('x', '2026-11-02T10:00:00Z', { attribution: nobody }),
        ],
        incidents: [
          incident('y', '2026-11-02T11:00:00Z', undefined, {
            attribution: nobody,
          }),
        ],
      });
      const summary = await figures(store);
      expect(summary.dataQuality.unattributedEvents).toBe(2);
      expect(summary.deploymentFrequency.deployments).toBe(1);
      const listed = await store.listUnattributed();
      expect(
        listed.map(row => [row.kind, row.attribution_key, Number(row.events)]),
      ).toEqual(
        expect.arrayContaining([
          ['deployment', nobody.key, 1],
          ['incident', nobody.key, 1],
        ]),
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'counts days and weeks in the configured zone across the end of summer time (%p)',
    async databaseId => {
      // Europe/Berlin leaves summer time on 2026-10-25 at 01:00 UTC. 22:30 UTC on Oct 24 and on Oct 25
      // are both on Sunday Oct 25 there (00:30 CEST, 23:30 CET); 23:30 UTC on Oct 25 is Monday Oct 26.
      const window = {
        from: at('2026-10-18T22:00:00Z'),
        to: at('2026-11-01T23:00:00Z'),
      };
      const batch = {
        deployments: [
          deployment('sat', '2026-10-24T22:30:00Z'),
          deployment('sun', '2026-10-25T22:30:00Z'),
          deployment('mon', '2026-10-25T23:30:00Z'),
        ],
      };
      const berlin = await createStore(databaseId, 'Europe/Berlin');
      await berlin.ingest(batch);
      const inBerlin = await berlin.summary({}, window);
      expect(inBerlin.deployDaysPerWeek).toEqual([1, 1]);
      const weeks = summarize({
        raw: inBerlin,
        scope: {},
        window,
        timeZone: 'Europe/Berlin',
        benchmark: DORA_BENCHMARKS[0],
      }).trend.map(w => [w.weekStart, w.deployments]);
      expect(weeks).toEqual([
        ['2026-10-19', 2],
        ['2026-10-26', 1],
      ]);

      const utc = await createStore(databaseId, 'UTC');
      await utc.ingest(batch);
      // in UTC the three fall on Saturday the 24th and Sunday the 25th (twice)
      const inUtc = await utc.summary({}, window);
      expect(inUtc.weeks.map(w => w.deployments)).toEqual([0, 3, 0]);
    },
  );

  it.each(databases.eachSupportedId())(
    'lets a person mark a deployment as failed, and as the fix of another (%p)',
    async databaseId => {
      const store = await createStore(databaseId);
      await store.ingest({
        deployments: [
          deployment('good', '2026-11-02T10:00:00Z'),
          deployment('fix', '2026-11-02T13:00:00Z'),
        ],
      });
      const { rows } = await store.listDeployments({
        filter: {},
        window: november,
        limit: 10,
        offset: 0,
      });
      const id = (name: string) =>
        Number(
          rows.find((r: { external_id: string }) => r.external_id === name).id,
        );

      await store.markDeployment(
        id('fix'),
        { fixOf: id('good') },
        'user:default/ana',
      );
      let summary = await figures(store);
      expect(summary.changeFailureRate.failed).toBe(1);
      expect(summary.recoveryTime.medianSeconds).toBe(3 * HOUR);
      expect(summary.reworkRate.unplannedFixes).toBe(1);

      await store.markDeployment(
        id('fix'),
        { fixOf: null },
        'user:default/ana',
      );
      await store.markDeployment(
        id('good'),
        { failed: true },
        'user:default/ana',
      );
      summary = await figures(store);
      expect(summary.changeFailureRate.failed).toBe(1);
      expect(summary.recoveryTime).toMatchObject({ recovered: 0 });
      expect(summary.reworkRate.unplannedFixes).toBe(0);
    },
  );
});
