import {
  createMockDirectory,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { eventually } from '@internal/portico-backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import catalogModuleTemplateKind from '@backstage/plugin-catalog-backend-module-scaffolder-entity-model';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import request from 'supertest';
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

describe('templates read from a Git server without a web UI', () => {
  let daemon: GitDaemon;

  beforeAll(async () => {
    daemon = await GitDaemon.start();
    daemon.createRepository('templates', {
      'templates/hello/template.yaml': template,
      'templates/hello/skeleton/README.md': '# ${{ values.name }}\n',
    });
  });

  afterAll(() => daemon.stop());

  it('fetch their relative skeleton from the same repository when the template runs', async () => {
    const { server } = await startTestBackend({
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
              rules: [{ allow: ['Template'] }],
              providers: {
                git: {
                  templates: {
                    remotes: [daemon.url('templates')],
                    files: ['templates/*/template.yaml'],
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
    });
    const api = request(server);
    const auth = { Authorization: 'Bearer mock-user-token' };

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

    const created = await api
      .post('/api/scaffolder/v2/tasks')
      .set(auth)
      .send({
        templateRef: 'template:default/hello-service',
        values: { name: 'billing' },
      });
    expect(created.status).toBe(201);
    // What the task's page shows: its log, and how it ended.
    const events = await eventually(async () => {
      const res = await api
        .get(`/api/scaffolder/v2/tasks/${created.body.id}/events`)
        .set(auth);
      const body = res.body as { type: string; body: { message: string } }[];
      return body.some(event => event.type === 'completion') ? body : undefined;
    }, "the task's end");
    expect(events.at(-1)?.body.message).toBe(
      'Run completed with status: completed',
    );
    expect(events.map(event => event.body.message).join('\n')).toContain(
      'Workspace:\n - README.md:\n\n  # billing\n',
    );
  });
});
