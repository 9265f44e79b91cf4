import {
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabaseId,
} from '@backstage/backend-test-utils';
import eventsPlugin from '@backstage/plugin-events-backend';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { eventsServiceFactory } from '@backstage/plugin-events-node';
import { createPorticoTestDatabases } from '@internal/portico-backend-test-utils';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import request from 'supertest';
import doraPlugin from './index';
import doraWebhooks from './webhooks';

jest.setTimeout(60_000);

const databases = createPorticoTestDatabases();

const secrets = {
  github: 'github-secret',
  gitlab: 'gitlab-token',
  pagerduty: 'pagerduty-secret',
  cdevents: 'cdevents-token',
};

/** A fixture as it is on disk: signatures are over these bytes, never a re-serialised object. */
const fixture = (name: string) =>
  readFileSync(join(__dirname, '__fixtures__', name), 'utf8');
const hmac = (secret: string, body: string) =>
  createHmac('sha256', secret).update(body).digest('hex');

const checkout = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: {
    name: 'checkout-service',
    namespace: 'default',
    annotations: {
      'github.com/project-slug': 'acme/checkout-service',
      'pagerduty.com/service-id': 'P7CHK0S',
      'portico.dev/dora-id': 'checkout-service',
    },
  },
  spec: {
    type: 'service',
    owner: 'group:default/payments',
    lifecycle: 'production',
  },
  relations: [{ type: 'ownedBy', targetRef: 'group:default/payments' }],
};

/** Engineering has payments as a child group: its figures include payments' services. */
const groups = [
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Group',
    metadata: { name: 'engineering', namespace: 'default' },
    spec: { type: 'department', children: ['payments'] },
    relations: [{ type: 'parentOf', targetRef: 'group:default/payments' }],
  },
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Group',
    metadata: { name: 'payments', namespace: 'default' },
    spec: { type: 'team', children: [] },
    relations: [{ type: 'childOf', targetRef: 'group:default/engineering' }],
  },
];

async function startPortal(
  databaseId: TestDatabaseId,
  permission:
    | AuthorizeResult.ALLOW
    | AuthorizeResult.DENY = AuthorizeResult.ALLOW,
) {
  const knex = await databases.init(databaseId);
  const backend = await startTestBackend({
    features: [
      eventsPlugin,
      // The real events service: the mock gives each plugin a bus of its own.
      eventsServiceFactory,
      doraWebhooks,
      doraPlugin,
      mockServices.database.factory({ knex }),
      catalogServiceMock.factory({ entities: [checkout, ...groups] }),
      mockServices.permissions.factory({ result: permission }),
      mockServices.rootConfig.factory({
        data: {
          events: {
            // One backend: the database bus only adds long polls that outlive the test.
            useEventBus: 'never',
            modules: {
              github: { webhookSecret: secrets.github },
              gitlab: { webhookSecret: secrets.gitlab },
              pagerduty: {
                webhookSecrets: ['an-old-secret', secrets.pagerduty],
              },
              cdevents: { token: secrets.cdevents },
            },
          },
        },
      }),
    ],
  });
  databases.stopAfterTest(backend);
  const { server } = backend;
  return server;
}

type Server = Awaited<ReturnType<typeof startPortal>>;

const github = (
  server: Server,
  event: string,
  body: string,
  secret = secrets.github,
) =>
  request(server)
    .post('/api/events/http/github')
    .set('Content-Type', 'application/json')
    .set('X-GitHub-Event', event)
    .set('X-GitHub-Delivery', `delivery-${event}`)
    .set('X-Hub-Signature-256', `sha256=${hmac(secret, body)}`)
    .send(body);

const pagerDuty = (server: Server, body: string, secret = secrets.pagerduty) =>
  request(server)
    .post('/api/events/http/pagerduty')
    .set('Content-Type', 'application/json')
    .set(
      'X-PagerDuty-Signature',
      `v1=${hmac('rotated-away', body)},v1=${hmac(secret, body)}`,
    )
    .send(body);

const cdevent = (server: Server, body: string, token = secrets.cdevents) =>
  request(server)
    .post('/api/events/http/cdevents')
    .set('Content-Type', 'application/json')
    .set('Authorization', `Bearer ${token}`)
    .send(body);

const november = { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' };

/** What the DORA page shows for checkout-service, once the events bus has delivered. */
async function figures(server: Server) {
  const res = await request(server)
    .get('/api/dora/summary')
    .query({ ...november, entityRef: 'component:default/checkout-service' });
  expect(res.status).toBe(200);
  return res.body;
}

async function settled(server: Server, check: (summary: any) => boolean) {
  for (let i = 0; i < 40; i++) {
    const summary = await figures(server);
    if (check(summary)) return summary;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return figures(server);
}

/** The id the API gives the one deployment of the window. */
async function idOfFirst(server: Server) {
  const res = await request(server)
    .get('/api/dora/deployments')
    .query(november);
  return res.body.items[0].id;
}

/** One deployment from CI; resolves to its id. */
async function deployOne(server: Server) {
  await request(server)
    .post('/api/dora/deployments')
    .set('Authorization', mockCredentials.service.header())
    .send({
      id: 'build-9',
      service: 'checkout-service',
      finishedAt: '2026-11-12T10:00:00Z',
    })
    .expect(202);
  return idOfFirst(server);
}

describe('DORA webhooks', () => {
  it.each(databases.eachSupportedId())(
    'turns a signed GitHub, PagerDuty and CDEvents story into the figures (%p)',
    async databaseId => {
      const server = await startPortal(databaseId);
      for (const [event, file] of [
        ['push', 'github-push.json'],
        ['pull_request', 'github-pull_request-merged.json'],
        ['deployment_status', 'github-deployment_status.json'],
        // a redelivery
        ['deployment_status', 'github-deployment_status.json'],
      ]) {
        expect((await github(server, event, fixture(file))).status).toBe(202);
      }
      for (const file of [
        'pagerduty-incident.triggered.json',
        'pagerduty-incident.resolved.json',
      ]) {
        expect((await pagerDuty(server, fixture(file))).status).toBe(202);
      }

      // Commit 15:42:10 on Nov 19, merged 09:15:02 and deployed 09:20:11 on Nov 20; incident from
      // 11:02:14 to 11:49:37.208.
      let summary = await settled(server, s => s.recoveryTime.recovered === 1);
      expect(summary.deploymentFrequency.deployments).toBe(1);
      expect(summary.leadTime).toMatchObject({
        changes: 1,
        medianSeconds: 17 * 3600 + 38 * 60 + 1,
        mergeToDeploy: { changes: 1, medianSeconds: 309 },
      });
      expect(summary.changeFailureRate).toMatchObject({ failed: 1, rate: 1 });
      expect(summary.recoveryTime.medianSeconds).toBeCloseTo(
        2 * 3600 + 29 * 60 + 26.208,
      );
      expect(summary.dataQuality).toMatchObject({
        deploymentsWithChanges: 1,
        incidents: 1,
        incidentsLinkedToDeployment: 1,
      });

      // Argo CD reports the rollback at 11:31:05: recovery is now the rollback, and it is rework.
      expect(
        (await cdevent(server, fixture('cdevents-service.rolledback-0.4.json')))
          .status,
      ).toBe(202);
      summary = await settled(
        server,
        s => s.deploymentFrequency.deployments === 2,
      );
      expect(summary.recoveryTime.medianSeconds).toBe(2 * 3600 + 10 * 60 + 54);
      expect(summary.reworkRate).toMatchObject({
        unplannedFixes: 1,
        rate: 0.5,
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'refuses a delivery without a valid signature with 401 and stores nothing (%p)',
    async databaseId => {
      const server = await startPortal(databaseId);
      const body = fixture('github-deployment_status.json');
      expect(
        (await github(server, 'deployment_status', body, 'wrong')).status,
      ).toBe(401);
      const unsigned = await request(server)
        .post('/api/events/http/github')
        .set('Content-Type', 'application/json')
        .set('X-GitHub-Event', 'deployment_status')
        .send(body);
      expect(unsigned.status).toBe(401);
      expect(unsigned.body.message).toBe('X-Hub-Signature-256 is missing');
      expect(
        (
          await pagerDuty(
            server,
            fixture('pagerduty-incident.triggered.json'),
            'wrong',
          )
        ).status,
      ).toBe(401);
      expect(
        (
          await cdevent(
            server,
            fixture('cdevents-service.deployed-0.4.json'),
            'wrong',
          )
        ).status,
      ).toBe(401);
      const gitlab = await request(server)
        .post('/api/events/http/gitlab')
        .set('Content-Type', 'application/json')
        .set('X-Gitlab-Event', 'Deployment Hook')
        .set('X-Gitlab-Token', 'wrong')
        .send(fixture('gitlab-deployment.json'));
      expect(gitlab.status).toBe(401);

      const summary = await figures(server);
      expect(summary.deploymentFrequency.deployments).toBe(0);
      expect(summary.dataQuality.incidents).toBe(0);
    },
  );

  it.each(databases.eachSupportedId())(
    'answers a malformed payload with 400 naming the field (%p)',
    async databaseId => {
      const server = await startPortal(databaseId);
      const broken = JSON.parse(fixture('github-deployment_status.json'));
      delete broken.deployment.sha;
      const res = await github(
        server,
        'deployment_status',
        JSON.stringify(broken),
      );
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^deployment_status: deployment\.sha: /);

      const cd = JSON.parse(fixture('cdevents-service.deployed-0.4.json'));
      cd.context.timestamp = 'yesterday';
      const cdRes = await cdevent(server, JSON.stringify(cd));
      expect(cdRes.status).toBe(400);
      expect(cdRes.body.message).toContain(
        'context.timestamp: not a time with a zone: "yesterday"',
      );

      const old = JSON.parse(fixture('cdevents-service.deployed-0.4.json'));
      old.context.version = '0.2.0';
      expect(
        (await cdevent(server, JSON.stringify(old))).body.message,
      ).toContain('must be 0.3.x to 0.5.x');
    },
  );

  it.each(databases.eachSupportedId())(
    "reads a GitHub delivery sent as a form, GitHub's default for a webhook made through its API (%p)",
    async databaseId => {
      const server = await startPortal(databaseId);
      const form = new URLSearchParams({
        payload: fixture('github-deployment_status.json'),
      }).toString();
      const send = (body: string) =>
        request(server)
          .post('/api/events/http/github')
          .set('Content-Type', 'application/x-www-form-urlencoded')
          .set('X-GitHub-Event', 'deployment_status')
          .set('X-Hub-Signature-256', `sha256=${hmac(secrets.github, body)}`)
          .send(body);
      expect((await send(form)).status).toBe(202);
      const summary = await settled(
        server,
        s => s.deploymentFrequency.deployments === 1,
      );
      expect(summary.deploymentFrequency.deployments).toBe(1);

      const withoutPayload = await send('ref=main');
      expect(withoutPayload.status).toBe(400);
      expect(withoutPayload.body.error.message).toBe(
        'body: a form without a payload field',
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'reads CDEvents of spec 0.3, 0.4 and 0.5, bare or inside a structured CloudEvent (%p)',
    async databaseId => {
      const server = await startPortal(databaseId);
      for (const file of [
        'cdevents-service.deployed-0.3.json',
        'cdevents-service.deployed-0.4.json',
      ]) {
        expect((await cdevent(server, fixture(file))).status).toBe(202);
      }
      const latest = JSON.parse(fixture('cdevents-service.deployed-0.5.json'));
      const structured = await request(server)
        .post('/api/events/http/cdevents')
        .set('Content-Type', 'application/cloudevents+json')
        .set('Authorization', `Bearer ${secrets.cdevents}`)
        .send(
          JSON.stringify({
            specversion: '1.0',
            id: latest.context.id,
            source: latest.context.source,
            type: latest.context.type,
            datacontenttype: 'application/json',
            data: latest,
          }),
        );
      expect(structured.status).toBe(202);
      const summary = await settled(
        server,
        s => s.deploymentFrequency.deployments === 3,
      );
      expect(summary.deploymentFrequency.deployments).toBe(3);
    },
  );

  it.each(databases.eachSupportedId())(
    'takes deployments and incidents from any CI through the generic API, never anonymously (%p)',
    async databaseId => {
      const server = await startPortal(databaseId);
      const deployments = [
        {
          id: 'build-41',
          entityRef: 'component:default/checkout-service',
          finishedAt: '2026-11-10T10:00:00+01:00',
          commits: [
            { sha: 'f'.repeat(40), committedAt: '2026-11-10T07:00:00+01:00' },
          ],
        },
        {
          id: 'build-42',
          service: 'checkout-service',
          finishedAt: '2026-11-11T10:00:00Z',
        },
      ];
      const anonymous = await request(server)
        .post('/api/dora/deployments')
        .set('Authorization', mockCredentials.none.header())
        .send(deployments);
      expect(anonymous.status).toBe(401);

      const asCi = () =>
        request(server)
          .post('/api/dora/deployments')
          .set('Authorization', mockCredentials.service.header());
      expect((await asCi().send({ items: deployments })).body).toEqual({
        accepted: { deployments: 2, changes: 1, incidents: 0 },
      });
      const broken = await asCi().send([
        deployments[0],
        { id: 'x', service: 'checkout-service' },
      ]);
      expect(broken.status).toBe(400);
      expect(broken.body.error.message).toMatch(
        /^deployment \[1\]: finishedAt: /,
      );
      const tooMany = await asCi().send(
        Array.from({ length: 1001 }, (_, i) => ({
          ...deployments[1],
          id: `b${i}`,
        })),
      );
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.error.message).toContain('1 to 1000 items');

      const incident = await request(server)
        .post('/api/dora/incidents')
        .set('Authorization', mockCredentials.service.header())
        .send({
          id: 'inc-7',
          service: 'checkout-service',
          detectedAt: '2026-11-10T09:30:00Z',
          resolvedAt: '2026-11-10T10:00:00Z',
          deploymentId: 'build-41',
        });
      expect(incident.status).toBe(202);

      const summary = await figures(server);
      expect(summary.deploymentFrequency.deployments).toBe(2);
      expect(summary.leadTime.medianSeconds).toBe(3 * 3600);
      const department = await request(server)
        .get('/api/dora/summary')
        .query({ ...november, groupRef: 'group:default/engineering' });
      expect(department.body.deploymentFrequency.deployments).toBe(2);
      expect(summary.changeFailureRate.failed).toBe(1);
      expect(summary.recoveryTime.medianSeconds).toBe(3600);
    },
  );

  it.each(databases.eachSupportedId())(
    'lets a person mark a deployment failed when the policy allows it; a malformed mark is a 400 (%p)',
    async databaseId => {
      const allowed = await startPortal(databaseId);
      const marked = await request(allowed)
        .post(`/api/dora/deployments/${await deployOne(allowed)}/mark`)
        .set('Authorization', mockCredentials.user.header())
        .send({ failed: true });
      expect(marked.status).toBe(200);
      expect(marked.body).toMatchObject({
        failed: true,
        failureCauses: ['manual'],
      });
      expect((await figures(allowed)).changeFailureRate.failed).toBe(1);
      const bad = await request(allowed)
        .post(`/api/dora/deployments/${await idOfFirst(allowed)}/mark`)
        .set('Authorization', mockCredentials.user.header())
        .send({ failed: 'yes' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^body: failed: /);
    },
  );

  it.each(databases.eachSupportedId())(
    'refuses a mark the policy denies, and changes nothing (%p)',
    async databaseId => {
      const server = await startPortal(databaseId, AuthorizeResult.DENY);
      const res = await request(server)
        .post(`/api/dora/deployments/${await deployOne(server)}/mark`)
        .set('Authorization', mockCredentials.user.header())
        .send({ failed: true });
      expect(res.status).toBe(403);
      expect((await figures(server)).changeFailureRate.failed).toBe(0);
    },
  );
});
