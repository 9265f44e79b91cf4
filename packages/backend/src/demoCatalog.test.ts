import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createBackendModule } from '@backstage/backend-plugin-api';
import { eventsServiceRef } from '@backstage/plugin-events-node';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import request from 'supertest';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import catalogModuleGit from '@internal/plugin-catalog-backend-module-git';
import scaffolderEntityModel from '@backstage/plugin-catalog-backend-module-scaffolder-entity-model';
import {
  createPorticoTestDatabases,
  eventually,
} from '@internal/portico-backend-test-utils';

jest.setTimeout(120_000);

const repoRoot = resolve(__dirname, '../../..');
const databases = createPorticoTestDatabases();

describe('the demo catalog', () => {
  it.each(databases.eachSupportedId())(
    'ingests the demo catalog from its Git repository, and a broken file is reported by name while every other file loads (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      // The development config's own locations and Git provider, over a copy of the repository in
      // which one demo file has broken YAML.
      const copy = mkdtempSync(join(tmpdir(), 'portico-catalog-'));
      for (const dir of ['catalog', 'templates']) {
        cpSync(join(repoRoot, dir), join(copy, dir), { recursive: true });
      }
      cpSync(
        join(repoRoot, 'catalog-info.yaml'),
        join(copy, 'catalog-info.yaml'),
      );
      writeFileSync(
        join(copy, 'catalog/entities/components-analytics.yaml'),
        'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\n',
      );
      // The demo repository, made by the same step as `./portico start` makes it.
      const data = join(copy, '.data');
      execFileSync(
        'bash',
        ['-c', 'source scripts/lib.sh && ensure_demo_repository'],
        {
          cwd: repoRoot,
          env: { ...process.env, PORTICO_ROOT: copy, PORTICO_DATA: data },
        },
      );
      const devConfig = parse(
        readFileSync(join(repoRoot, 'app-config.yaml'), 'utf8'),
      );
      // Paths in the development config are relative to packages/backend.
      const inCopy = (path: string) => join(copy, relative('../..', path));
      const locations = devConfig.catalog.locations.map(
        (location: { target: string }) => ({
          ...location,
          target: inCopy(location.target),
        }),
      );
      const demoProvider = devConfig.catalog.providers.git.demo;
      const demoRemote = inCopy(demoProvider.remotes[0]);

      const reportedErrors: string[] = [];
      const catalogErrorsCollector = createBackendModule({
        pluginId: 'catalog',
        moduleId: 'errors-collector',
        register(reg) {
          reg.registerInit({
            deps: { events: eventsServiceRef },
            async init({ events }) {
              await events.subscribe({
                id: 'test-errors-collector',
                topics: ['experimental.catalog.errors'],
                async onEvent({ eventPayload }) {
                  const { location, errors } = eventPayload as {
                    location?: string;
                    errors: Error[];
                  };
                  reportedErrors.push(
                    ...errors.map(e => `${location}: ${e.message}`),
                  );
                },
              });
            },
          });
        },
      });

      const backend = await startTestBackend({
        features: [
          catalogPlugin,
          catalogModuleGit,
          scaffolderEntityModel,
          catalogErrorsCollector,
          mockServices.database.factory({ knex }),
          mockServices.rootConfig.factory({
            data: {
              catalog: {
                processingInterval: { seconds: 1 },
                rules: devConfig.catalog.rules,
                locations,
                providers: {
                  git: { demo: { ...demoProvider, remotes: [demoRemote] } },
                },
              },
            },
          }),
        ],
      });
      databases.stopAfterTest(backend);
      const { server } = backend;
      const api = (path: string) =>
        request(server)
          .get(`/api/catalog${path}`)
          .set('Authorization', 'Bearer mock-user-token');
      const entity = (path: string) =>
        eventually(async () => {
          const res = await api(`/entities/by-name/${path}`);
          return res.status === 200 ? res.body : undefined;
        }, path);

      const checkout = await eventually(async () => {
        const body = await entity('component/default/checkout-service');
        return body.relations?.some((r: any) => r.type === 'providesApi')
          ? body
          : undefined;
      }, 'checkout-service with its relations');
      expect(
        checkout.relations.map((r: any) => `${r.type} ${r.targetRef}`),
      ).toEqual(
        expect.arrayContaining([
          'providesApi api:default/checkout-api',
          'dependsOn resource:default/orders-db',
          'ownedBy group:default/payments-team',
        ]),
      );
      expect(
        (await entity('api/default/checkout-api')).spec.definition,
      ).toMatch(/^openapi: 3/m);
      await entity('template/default/node-service');
      await entity('user/default/guest');
      await entity('component/default/portico');

      // The broken file is reported with its line on the Git ingestion status; nothing else is lost.
      const brokenFileError = await eventually(async () => {
        const status = await api('/portico-git/status');
        return status.body.providers?.[0]?.repositories?.[0]?.fileErrors?.[0];
      }, 'the error of the broken file');
      expect(brokenFileError).toMatchObject({
        file: 'components-analytics.yaml',
        line: 5,
      });
      expect(reportedErrors).toEqual([]);

      const components = await api(
        '/entities/by-query?filter=kind=component&limit=0',
      );
      expect(components.body.totalItems).toBeGreaterThanOrEqual(15);
    },
  );
});
