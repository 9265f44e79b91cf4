import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The portal under test runs on its own ports with an in-memory database, so `./portico start`
// can keep running beside the tests.
const appUrl = 'http://localhost:3100';
const configs = ['app-config.yaml', 'e2e/app-config.e2e.yaml']
  .map(file => `--config ${JSON.stringify(resolve(__dirname, file))}`)
  .join(' ');

process.env.PORTICO_E2E_TECHDOCS_DIR ??= mkdtempSync(
  join(tmpdir(), 'portico-e2e-techdocs-'),
);

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  forbidOnly: !!process.env.CI,
  outputDir: 'test-results',
  use: {
    baseURL: appUrl,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot reach its host here.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `yarn start ${configs}`,
    url: `${appUrl}`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
  },
  projects: [
    { name: 'image', testMatch: 'image.spec.ts', timeout: 900_000 },
    { name: 'portal', testMatch: /(portal|dora)\.spec\.ts/ },
  ],
});
