import { ConfigReader } from '@backstage/config';
import { Entity } from '@backstage/catalog-model';
import { ScmIntegrations } from '@backstage/integration';
import { TemplateFetchUrlProcessor } from './TemplateFetchUrlProcessor';

const processor = new TemplateFetchUrlProcessor(
  ScmIntegrations.fromConfig(new ConfigReader({})),
);

const template = (
  sourceLocation: string,
  urls: string[],
  extra: Record<string, string> = { 'portico.dev/git-commit': 'abc123' },
): Entity => ({
  apiVersion: 'scaffolder.backstage.io/v1beta3',
  kind: 'Template',
  metadata: {
    name: 'service',
    annotations: {
      'backstage.io/source-location': `url:${sourceLocation}`,
      ...extra,
    },
  },
  spec: {
    steps: [
      ...urls.map((url, i) => ({
        id: `fetch${i}`,
        action: 'fetch:template',
        input: { url },
      })),
      { id: 'publish', action: 'publish:gitea', input: { repoUrl: 'x' } },
    ],
  },
});

const fetchUrls = (entity: Entity) =>
  (entity.spec!.steps as { input: { url?: string } }[]).map(
    step => step.input.url,
  );

describe('TemplateFetchUrlProcessor', () => {
  it.each([
    [
      'git://git.example.com/templates.git/service/',
      'git://git.example.com/templates.git/service/skeleton',
    ],
    [
      'ssh://git@git.example.com/templates.git/',
      'ssh://git@git.example.com/templates.git/skeleton',
    ],
    [
      'https://git.example.com/scm/templates.git/service/',
      'https://git.example.com/scm/templates.git/service/skeleton',
    ],
    [
      'file:///srv/git/templates.git/',
      'file:///srv/git/templates.git/skeleton',
    ],
  ])(
    'makes a relative skeleton absolute under a remote the scaffolder has no integration for: %s',
    async (source, skeleton) => {
      const entity = await processor.preProcessEntity(
        template(source, ['./skeleton', '../shared/ci']),
      );
      expect(fetchUrls(entity)).toEqual([
        skeleton,
        new URL('../shared/ci', source).href,
        undefined,
      ]);
    },
  );

  it.each([
    [
      'a host the scaffolder resolves against',
      template('https://github.com/acme/templates/tree/main/service/', [
        './skeleton',
      ]),
    ],
    [
      'a template the Git provider did not read',
      template('git://git.example.com/templates.git/', ['./skeleton'], {}),
    ],
    [
      'URLs that are absolute or filled in from parameters',
      template('git://git.example.com/templates.git/', [
        'https://github.com/acme/skeletons/tree/main/node',
        './${{ parameters.flavour }}',
      ]),
    ],
  ])('leaves alone %s', async (_, entity) => {
    expect(await processor.preProcessEntity(entity)).toBe(entity);
  });
});
