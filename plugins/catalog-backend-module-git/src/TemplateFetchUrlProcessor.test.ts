import { ConfigReader } from '@backstage/config';
import { Entity } from '@backstage/catalog-model';
import { ScmIntegrations } from '@backstage/integration';
import { TemplateFetchUrlProcessor } from './TemplateFetchUrlProcessor';

const processor = new TemplateFetchUrlProcessor(
  ScmIntegrations.fromConfig(new ConfigReader({})),
  [
    'git://git.example.com/templates.git',
    'ssh://git@git.example.com/templates.git',
    'file:///srv/git/templates.git',
    'git@git.example.com:scp.git',
    'https://git.example.com/scm/',
    'https://github.com/acme/templates',
  ],
);

const template = (
  sourceLocation: string,
  urls: string[],
  annotations: Record<string, string> = { 'portico.dev/git-commit': 'abc' },
): Entity => ({
  apiVersion: 'scaffolder.backstage.io/v1beta3',
  kind: 'Template',
  metadata: {
    name: 'service',
    annotations: {
      'backstage.io/source-location': sourceLocation,
      ...annotations,
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

const fetchUrls = async (entity: Entity) =>
  (
    (await processor.preProcessEntity(entity)).spec!.steps as {
      input: { url?: string };
    }[]
  ).map(step => step.input.url);

describe('TemplateFetchUrlProcessor', () => {
  it.each([
    'git://git.example.com/templates.git',
    'ssh://git@git.example.com/templates.git',
    'file:///srv/git/templates.git',
    'https://git.example.com/scm/platform/templates.git',
  ])(
    'makes relative fetch URLs absolute under a remote the scaffolder has no integration for: %s',
    async remote => {
      expect(
        await fetchUrls(
          template(`url:${remote}/service/`, [
            './skeleton',
            '../shared/ci',
            '/skeletons/base',
            '.',
            './flavours/${{ parameters.language }}',
          ]),
        ),
      ).toEqual([
        `${remote}/service/skeleton`,
        `${remote}/shared/ci`,
        `${remote}/skeletons/base`,
        `${remote}/service`,
        `${remote}/service/flavours/\${{ parameters.language }}`,
        undefined,
      ]);
    },
  );

  it('reads the directory of a source location with escapes as the path it names', async () => {
    expect(
      await fetchUrls(
        template('url:git://git.example.com/templates.git/Node%20Service/', [
          './skeleton',
        ]),
      ),
    ).toEqual([
      'git://git.example.com/templates.git/Node Service/skeleton',
      undefined,
    ]);
  });

  it.each([
    [
      'a host the scaffolder resolves against',
      template('url:https://github.com/acme/templates/tree/main/service/', [
        './skeleton',
      ]),
    ],
    [
      'a template the Git provider did not read',
      template('url:git://git.example.com/templates.git/', ['./skeleton'], {}),
    ],
    [
      'URLs that are absolute, made whole from parameters, or outside the repository',
      template('url:git://git.example.com/templates.git/service/', [
        'https://github.com/acme/skeletons/tree/main/node',
        '${{ parameters.skeletonUrl }}',
        '//git.example.com/other.git/skeleton',
        '../../other.git/skeleton',
      ]),
    ],
    [
      'a scp-like remote, which the scaffolder cannot take as a URL',
      template('url:git@git.example.com:scp.git/service/', ['./skeleton']),
    ],
    [
      'a source location written wrong',
      template('templates/service/', ['./skeleton']),
    ],
  ])('leaves alone %s', async (_, entity) => {
    expect(await processor.preProcessEntity(entity)).toBe(entity);
  });
});
