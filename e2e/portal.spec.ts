import { expect, Page, test } from '@playwright/test';

async function signInAsGuest(page: Page) {
  await page.goto('/');
  await page.getByRole('button', { name: 'Enter' }).click();
  await expect(page.getByRole('navigation', { name: 'sidebar nav' })).toBeVisible();
}

test.beforeEach(async ({ page }) => {
  await signInAsGuest(page);
});

test('the home page greets a guest with their team services, templates and links', async ({ page }) => {
  await expect(page).toHaveTitle(/Portico/);
  const teamServices = page.getByText('Your team’s services').locator('..').locator('..');
  await expect(page.getByText('Your team’s services')).toBeVisible();
  await expect(teamServices.getByRole('link').first()).toBeVisible();
  await expect(page.getByText('Golden paths')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Node.js service' }).first()).toBeVisible();
});

test('the catalog lists the demo components', async ({ page }) => {
  await page.goto('/catalog');
  await expect(page.getByRole('link', { name: 'checkout-service' })).toBeVisible({
    timeout: 60_000,
  });
  await expect(page.getByRole('link', { name: 'payment-gateway' })).toBeVisible();
});

test('an entity page shows its relations and the API it provides', async ({ page }) => {
  await page.goto('/catalog/default/component/checkout-service');
  await expect(page.getByRole('heading', { name: 'checkout-service' }).first()).toBeVisible();
  await expect(page.getByText('Relations').first()).toBeVisible();
  // The relations graph names the neighbours of the entity.
  await expect(page.locator('svg').getByText('orders-db').first()).toBeVisible();
  await page.getByRole('tab', { name: 'APIs' }).click();
  await expect(page.getByRole('link', { name: 'checkout-api' }).first()).toBeVisible();
});

test('the Create page lists the golden-path templates', async ({ page }) => {
  await page.goto('/create');
  await expect(page.getByText('Node.js service').first()).toBeVisible();
  await expect(page.getByText('Documentation site').first()).toBeVisible();
});

test('search finds a component by its name', async ({ page }) => {
  // The search index is built in the background shortly after the catalog loads.
  await expect(async () => {
    await page.goto('/search?query=checkout-service');
    await expect(page.getByRole('link', { name: /checkout-service/ }).first()).toBeVisible({
      timeout: 5_000,
    });
  }).toPass({ timeout: 90_000, intervals: [5_000] });
});
