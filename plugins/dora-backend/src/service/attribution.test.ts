import { mockServices } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { CatalogAttributor } from './attribution';

const checkout: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: {
    name: 'checkout',
    namespace: 'default',
    annotations: { 'github.com/project-slug': 'acme/checkout' },
  },
  spec: { type: 'service', owner: 'payments', system: 'shop' },
  relations: [
    { type: 'ownedBy', targetRef: 'group:default/payments' },
    { type: 'partOf', targetRef: 'system:default/shop' },
  ],
};

const checkoutAttribution = {
  entityRef: 'component:default/checkout',
  ownerRef: 'group:default/payments',
  systemRef: 'system:default/shop',
};

function attributor() {
  const catalog = catalogServiceMock({ entities: [checkout] });
  const byRefs = jest.spyOn(catalog, 'getEntitiesByRefs');
  return {
    byRefs,
    askedFor: () => byRefs.mock.calls.map(([request]) => request.entityRefs),
    attributor: new CatalogAttributor(catalog, mockServices.auth()),
  };
}

describe('CatalogAttributor', () => {
  it('asks the catalog once for a subject that batches arriving together name', async () => {
    const { attributor: subject, askedFor } = attributor();
    const [first, second] = await Promise.all([
      subject.attributeAll([{ entityRef: 'checkout' }]),
      subject.attributeAll([
        { entityRef: 'checkout' },
        { entityRef: 'component:default/gone' },
      ]),
    ]);
    expect(askedFor()).toEqual([
      ['component:default/checkout'],
      ['component:default/gone'],
    ]);
    const byCheckout = { key: 'entityRef=checkout', ...checkoutAttribution };
    expect([...first.values()]).toEqual([byCheckout]);
    expect([...second.values()]).toEqual([
      byCheckout,
      { key: 'entityRef=component:default/gone' },
    ]);

    // Answers, misses too, are kept: the next batch asks nothing.
    await subject.attributeAll([
      { entityRef: 'checkout' },
      { entityRef: 'component:default/gone' },
    ]);
    expect(askedFor()).toHaveLength(2);
  });

  it('attributes by annotation, preferring the component among its entities', async () => {
    const { attributor: subject } = attributor();
    const found = await subject.attributeAll([
      { annotation: 'github.com/project-slug', value: 'acme/checkout' },
    ]);
    expect(found.get('github.com/project-slug=acme/checkout')).toEqual({
      key: 'github.com/project-slug=acme/checkout',
      ...checkoutAttribution,
    });
  });

  it('fails every batch waiting on a failed lookup, and asks again for the next', async () => {
    const { attributor: subject, byRefs, askedFor } = attributor();
    byRefs.mockRejectedValueOnce(new Error('catalog unavailable'));
    const waiting = [
      subject.attributeAll([{ entityRef: 'checkout' }]),
      subject.attributeAll([{ entityRef: 'checkout' }]),
    ];
    for (const batch of waiting) {
      await expect(batch).rejects.toThrow('catalog unavailable');
    }
    const found = await subject.attributeAll([{ entityRef: 'checkout' }]);
    expect(found.get('entityRef=checkout')).toMatchObject(checkoutAttribution);
    expect(askedFor()).toHaveLength(2);
  });
});
