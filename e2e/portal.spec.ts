import { expect, test } from '@playwright/test';
import { signInAsGuest } from './signIn';

test.beforeEach(async ({ page }) => {
  await signInAsGuest(page);
});

test('the home page greets a guest with their team services, templates and links', async ({
  page,
}) => {
  await expect(page).toHaveTitle(/Portico/);
  await expect(page.getByText('Your team’s services')).toBeVisible();
  // The guest is in platform-team, which owns the auth proxy.
  await expect(page.getByRole('link', { name: 'Auth proxy' })).toBeVisible();
  await expect(page.getByText('Golden paths')).toBeVisible();
  await expect(
    page.getByRole('link', { name: 'Node.js service' }),
  ).toBeVisible();
});

test('the catalog lists the demo components', async ({ page }) => {
  await page.goto('/catalog');
  // The catalog opens on the guest's own components; the whole organisation is one click away. A click
  // while the picker is still loading its counts is lost (the list stayed on Owned in one CI run): again.
  await expect(async () => {
    await page.getByRole('menuitem', { name: /^All/ }).click();
    await expect(
      page.getByRole('link', { name: 'Checkout service' }),
    ).toBeVisible({ timeout: 10_000 });
  }).toPass({ timeout: 60_000 });
  await expect(
    page.getByRole('link', { name: 'Payment gateway' }),
  ).toBeVisible();
});

test('an entity page shows its relations and the API it provides', async ({
  page,
}) => {
  await page.goto('/catalog/default/component/checkout-service');
  await expect(
    page.getByRole('heading', { name: 'Checkout service' }).first(),
  ).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Relations' })).toBeVisible();
  // The relations graph draws the neighbours of the entity by their titles.
  await expect(
    page.locator('svg text', { hasText: 'Orders database' }).first(),
  ).toBeVisible();
  await expect(
    page.locator('svg text', { hasText: 'Payment gateway' }).first(),
  ).toBeVisible();
  await expect(
    page.getByRole('heading', { name: 'Provided APIs' }),
  ).toBeVisible();
  await page.getByRole('link', { name: 'Checkout API' }).first().click();
  await expect(page).toHaveURL(/\/catalog\/default\/api\/checkout-api/);
  await expect(
    page.getByRole('heading', { name: 'Checkout API' }).first(),
  ).toBeVisible();
});

test('a component’s TechDocs are built and shown, its diagram drawn', async ({
  page,
}) => {
  await page.goto('/docs/default/component/checkout-service');
  // The first visit builds the site with mkdocs, then shows it. If it never does, the failure quotes what
  // the page said instead (a build error, a missing entity), as the screenshot is not always at hand.
  await page
    .getByRole('heading', { name: 'What happens at checkout' })
    .waitFor({ timeout: 90_000 })
    .catch(async (error: Error) => {
      const shown = await page.locator('main').innerText();
      throw new Error(`${error.message}\nThe docs page showed:\n${shown}`);
    });
  // Its Mermaid diagram is drawn, not shown as source.
  const diagram = page.locator('.portico-mermaid svg');
  await expect(diagram).toBeVisible();
  await expect(diagram.getByText('Storefront BFF').first()).toBeVisible();
  await expect(page.getByText('sequenceDiagram')).toHaveCount(0);
  await page.getByRole('link', { name: 'Runbook' }).first().click();
  await expect(
    page.getByRole('heading', { name: /Orders stuck/ }),
  ).toBeVisible();
});

test('the Create page lists the golden-path templates', async ({ page }) => {
  await page.goto('/create');
  await expect(page.getByText('Node.js service').first()).toBeVisible();
  await expect(page.getByText('Documentation site').first()).toBeVisible();
});

test('the Git ingestion page shows the demo repository the catalog came from', async ({
  page,
}) => {
  await page.getByRole('link', { name: 'Git ingestion' }).click();
  const row = page.getByRole('row', { name: /demo-git\/northwind\.git/ });
  await expect(row).toBeVisible();
  // Its provider, the commit ingested and how many entities came from it.
  await expect(
    row.getByRole('cell', { name: 'demo', exact: true }),
  ).toBeVisible();
  await expect(row.getByText(/^[0-9a-f]{12}$/)).toBeVisible();
  const count = Number(await row.getByRole('cell').nth(4).textContent());
  expect(count).toBeGreaterThan(60);
});

test('search finds a component by its name', async ({ page }) => {
  // The search index is built in the background shortly after the catalog loads.
  await expect(async () => {
    await page.goto('/search?query=checkout-service');
    await expect(
      page
        .locator('a[href="/catalog/default/component/checkout-service"]')
        .first(),
    ).toBeVisible({ timeout: 5_000 });
  }).toPass({ timeout: 90_000, intervals: [5_000] });
});
