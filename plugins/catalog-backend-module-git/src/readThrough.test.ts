import {
  createMockDirectory,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import {
  eventually,
  runTemplateTask,
} from '@internal/portico-backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import catalogModuleTemplateKind from '@backstage/plugin-catalog-backend-module-scaffolder-entity-model';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import { Server } from 'node:http';
import request from 'supertest';
import { component } from './__testUtils__/descriptors';
import { GitDaemon } from './__testUtils__/gitServer';
import { catalogModuleGit } from './module';
import { gitUrlReaderFactory } from './urlReader';

jest.setTimeout(120_000);

createMockDirectory({ mockOsTmpDir: true });

// As public templates are written: the skeleton beside the template, named relative to it.
const template = `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: hello-service
  title: Hello service
spec:
  owner: group:default/platform-team
  type: service
  parameters:
    - title: Name
      required: [name]
      properties:
        name: { type: string }
  steps:
    - id: fetch
      name: Fetch the skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: \${{ parameters.name }}
    - id: show
      name: Show the files
      action: debug:log
      input:
        listWorkspace: with-contents
`;

// A monorepo's root descriptor, as many list the descriptors of their folders.
const monorepoLocation = `apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: shop
spec:
  targets:
    - ./services/*/catalog-info.yaml
    - ./tools/cli/catalog-info.yaml
`;

/**
 * What the catalog and the scaffolder read, beyond the provider's own descriptors, from a Git server without
 * a web UI: through the module's URL reader, at the branch the provider reads.
 */
describe('reads through the Git URL reader', () => {
  let daemon: GitDaemon;
  let server: Server;
  let api: ReturnType<typeof request>;
  const auth = { Authorization: 'Bearer mock-user-token' };

  beforeAll(async () => {
    daemon = await GitDaemon.start();
    daemon.createRepository('templates', {
      'templates/hello/template.yaml': template,
      'templates/hello/skeleton/README.md': '# ${{ values.name }}\n',
    });
    daemon.createRepository('shop', {
      'catalog-info.yaml': monorepoLocation,
      'services/cart/catalog-info.yaml': component('cart'),
      'services/payments/catalog-info.yaml': component('payments'),
      'tools/cli/catalog-info.yaml': component('shop-cli'),
    });
    ({ server } = await startTestBackend({
      features: [
        catalogPlugin,
        catalogModuleTemplateKind,
        catalogModuleGit,
        scaffolderPlugin,
        gitUrlReaderFactory,
        mockServices.rootConfig.factory({
          data: {
            catalog: {
              processingInterval: { seconds: 1 },
              rules: [{ allow: ['Template', 'Location', 'Component'] }],
              providers: {
                git: {
                  team: {
                    remotes: [daemon.url('templates'), daemon.url('shop')],
                    files: ['catalog-info.yaml', 'templates/*/template.yaml'],
                    schedule: {
                      frequency: { minutes: 10 },
                      timeout: { minutes: 1 },
                    },
                  },
                },
              },
            },
          },
        }),
      ],
    }));
    api = request(server);
  });

  afterAll(() => daemon.stop());

  it("reads a Location's targets, globs among them, from the same repository", async () => {
    const shop = daemon.url('shop');
    const managedBy = async (name: string) =>
      eventually(async () => {
        const res = await api
          .get(`/api/catalog/entities/by-name/component/default/${name}`)
          .set(auth);
        return res.body.metadata.annotations[
          'backstage.io/managed-by-location'
        ];
      }, `component ${name}`);
    expect(await managedBy('cart')).toBe(
      `url:${shop}/services/cart/catalog-info.yaml`,
    );
    expect(await managedBy('payments')).toBe(
      `url:${shop}/services/payments/catalog-info.yaml`,
    );
    expect(await managedBy('shop-cli')).toBe(
      `url:${shop}/tools/cli/catalog-info.yaml`,
    );
  });

  it('fetches the relative skeleton of a template from its repository when the template runs', async () => {
    const entity = await eventually(async () => {
      const res = await api
        .get('/api/catalog/entities/by-name/template/default/hello-service')
        .set(auth);
      expect(res.status).toBe(200);
      return res.body;
    }, 'the template in the catalog');
    expect(entity.spec.steps[0].input.url).toBe(
      `${daemon.url('templates')}/templates/hello/skeleton`,
    );

    const task = await runTemplateTask(
      server,
      'template:default/hello-service',
      { name: 'billing' },
    );
    expect(task.ending).toBe('Run completed with status: completed');
    expect(task.log).toContain('Workspace:\n - README.md:\n\n  # billing\n');
  });
});
