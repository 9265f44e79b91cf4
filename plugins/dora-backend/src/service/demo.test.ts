import { mockServices } from '@backstage/backend-test-utils';
import { createPorticoTestDatabases } from '@internal/portico-backend-test-utils';
import { DatabaseDoraStore } from '../database/DatabaseDoraStore';
import { DEMO_DAYS, demoHistory } from './demo';

jest.setTimeout(60_000);

const databases = createPorticoTestDatabases();
const attribution = {
  entityRef: 'component:default/checkout-service',
  ownerRef: 'group:default/payments-team',
  key: 'entityRef=component:default/checkout-service',
};
const today = Math.floor(Date.now() / 86_400_000);

describe('demo history', () => {
  it('is the same on every run, and only in the past', () => {
    const first = demoHistory(attribution, today - DEMO_DAYS, today + 1);
    const again = demoHistory(attribution, today - DEMO_DAYS, today + 1);
    expect(again).toEqual(first);
    expect(first.deployments.length).toBeGreaterThan(20);
    expect(
      Math.max(...first.deployments.map(d => d.finishedAt)),
    ).toBeLessThanOrEqual(Date.now());
    expect(first.deployments.every(d => d.demo)).toBe(true);
  });

  it.each(databases.eachSupportedId())(
    'stores a day seeded twice once, and gives every metric a figure (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const store = await DatabaseDoraStore.create({
        database: mockServices.database({ knex }),
        timeZone: 'UTC',
      });
      const history = demoHistory(attribution, today - DEMO_DAYS, today + 1);
      await store.ingest(history);
      await store.ingest(demoHistory(attribution, today - 3, today + 1));
      const window = {
        from: Date.now() - DEMO_DAYS * 86_400_000,
        to: Date.now() + 1,
      };
      const summary = await store.summary({}, window);
      expect(summary.deployments).toBe(
        history.deployments.filter(d => d.finishedAt >= window.from).length,
      );
      expect(summary.includesDemoData).toBe(true);
      expect(summary.leadTime.p50).toBeGreaterThan(0);
      expect(summary.failed).toBeGreaterThan(0);
      expect(summary.recovery.p50).toBeGreaterThan(0);
      expect(
        (await store.lastDemoDays()).get(attribution.entityRef),
      ).toBeGreaterThanOrEqual(today - 3);
    },
  );
});
