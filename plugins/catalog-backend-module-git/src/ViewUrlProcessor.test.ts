import { Entity } from '@backstage/catalog-model';
import { ViewUrlProcessor } from './ViewUrlProcessor';

const withUrls = (url: string): Entity => ({
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: {
    name: 'cart',
    annotations: {
      'backstage.io/view-url': url,
      'backstage.io/edit-url': url,
      'backstage.io/source-location': `url:${url}`,
    },
  },
});

describe('ViewUrlProcessor', () => {
  const processor = new ViewUrlProcessor();

  it.each([
    'git://git.example.com/shop.git/catalog-info.yaml',
    'ssh://git@git.example.com/shop.git/catalog-info.yaml',
    'file:///srv/git/shop.git/catalog-info.yaml',
  ])('drops view and edit URLs a browser cannot open: %s', async url => {
    const { metadata } = await processor.preProcessEntity(withUrls(url));
    expect(metadata.annotations).toEqual({
      'backstage.io/source-location': `url:${url}`,
    });
  });

  it('keeps web addresses', async () => {
    const entity = withUrls(
      'https://gerrit.example.com/shop/catalog-info.yaml',
    );
    expect(await processor.preProcessEntity(entity)).toBe(entity);
  });
});
