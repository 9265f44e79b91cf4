import { expect, Page, test } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { signInAsGuest } from './signIn';

// The portal under test (playwright.config.ts) runs with app-config.yaml's development secrets.
const backend = 'http://localhost:7107';
const secrets = {
  github: 'portico-dev-github-secret',
  pagerduty: 'portico-dev-pagerduty-secret',
  cdevents: 'portico-dev-cdevents-token',
};

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(
      resolve(__dirname, '../plugins/dora-backend/src/__fixtures__', name),
      'utf8',
    ),
  );
const hmac = (secret: string, body: string) =>
  createHmac('sha256', secret).update(body).digest('hex');
const hoursAgo = (hours: number) =>
  new Date(Date.now() - hours * 3_600_000).toISOString();

/** Fraud scoring is experimental: the demo history leaves it empty, so every figure it shows is ours. */
const repository = 'northwind/fraud-scoring';

async function send(
  path: string,
  payload: unknown,
  headers: (body: string) => Record<string, string>,
) {
  const body = JSON.stringify(payload);
  const res = await fetch(`${backend}/api/events/http/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers(body) },
    body,
  });
  expect(res.status, `${path}: ${await res.text()}`).toBe(202);
}

const github = (event: string, payload: unknown) =>
  send('github', payload, body => ({
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': `e2e-${event}-${Date.now()}`,
    'X-Hub-Signature-256': `sha256=${hmac(secrets.github, body)}`,
  }));

const pagerDuty = (payload: unknown) =>
  send('pagerduty', payload, body => ({
    'X-PagerDuty-Signature': `v1=${hmac(secrets.pagerduty, body)}`,
  }));

async function tile(page: Page, metric: string) {
  return page.getByTestId(`dora-tile-${metric}`);
}

test('signed GitHub and PagerDuty webhooks and a CDEvent change the DORA figures', async ({
  page,
}) => {
  await signInAsGuest(page);
  await page.goto('/catalog/default/component/fraud-scoring/dora');
  await expect(page.getByTestId('dora-getting-started')).toBeVisible({
    timeout: 60_000,
  });

  const sha = 'e2e0'.padEnd(40, 'a');
  const suffix = Date.now().toString(36);
  // A commit 6 h ago, merged 2 h ago, deployed 1 h ago; an incident 50 min ago, resolved 20 min ago.
  const push = fixture('github-push.json');
  push.repository.full_name = repository;
  push.after = sha;
  push.commits = [{ ...push.commits[0], id: sha, timestamp: hoursAgo(6) }];
  push.head_commit = { ...push.head_commit, id: sha, timestamp: hoursAgo(2) };
  await github('push', push);

  const deployment = fixture('github-deployment_status.json');
  deployment.repository.full_name = repository;
  deployment.deployment.id = Number(Date.now());
  deployment.deployment.sha = sha;
  deployment.deployment_status.created_at = hoursAgo(1);
  await github('deployment_status', deployment);

  const triggered = fixture('pagerduty-incident.triggered.json');
  const resolvedEvent = fixture('pagerduty-incident.resolved.json');
  for (const event of [triggered, resolvedEvent]) {
    event.event.data.id = `E2E${suffix}`;
    event.event.data.service.id = 'PNWFRD1';
    event.event.data.created_at = hoursAgo(50 / 60);
  }
  triggered.event.occurred_at = hoursAgo(50 / 60);
  resolvedEvent.event.occurred_at = hoursAgo(20 / 60);
  await pagerDuty(triggered);
  await pagerDuty(resolvedEvent);

  await page.reload();
  const frequency = await tile(page, 'deploymentFrequency');
  await expect(frequency).toContainText('1 deployments', { timeout: 30_000 });
  await expect(
    (await tile(page, 'leadTime')).getByTestId('dora-figure'),
  ).toHaveText('5.0 h');
  await expect(
    (await tile(page, 'changeFailureRate')).getByTestId('dora-figure'),
  ).toHaveText('100.0 %');
  await expect(
    (await tile(page, 'recoveryTime')).getByTestId('dora-figure'),
  ).toHaveText('40 min');

  // The deploy tool reports a rollback 30 min ago: it restored service before the incident was resolved.
  const rollback = fixture('cdevents-service.rolledback-0.4.json');
  rollback.context.id = `e2e-rollback-${suffix}`;
  rollback.context.timestamp = hoursAgo(0.5);
  rollback.subject.id = 'fraud-scoring';
  await send('cdevents', rollback, () => ({
    Authorization: `Bearer ${secrets.cdevents}`,
  }));

  await page.reload();
  await expect(frequency).toContainText('2 deployments', { timeout: 30_000 });
  await expect(
    (await tile(page, 'recoveryTime')).getByTestId('dora-figure'),
  ).toHaveText('30 min');
  await expect(
    (await tile(page, 'reworkRate')).getByTestId('dora-figure'),
  ).toHaveText('50.0 %');
  await expect(page.getByText('Deployments (2)')).toBeVisible();
});

test('the DORA page shows the organisation with demo data marked and a level per figure', async ({
  page,
}) => {
  await signInAsGuest(page);
  await page
    .getByRole('navigation', { name: 'sidebar nav' })
    .getByRole('link', { name: 'DORA' })
    .click();
  await expect(
    page.getByRole('heading', { name: 'DORA metrics' }),
  ).toBeVisible();
  await expect(page.getByTestId('dora-demo')).toBeVisible({ timeout: 90_000 });
  await expect(page.getByTestId('dora-level').first()).toContainText(
    'DORA 2024',
  );
  await expect(page.getByTestId('dora-trend')).toHaveCount(5);
  await expect(page.locator('.recharts-line').first()).toBeVisible();
});
