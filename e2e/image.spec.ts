import { expect, test } from '@playwright/test';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The Dockerfile's steps without a Docker engine: build the backend bundle, unpack it the way the image
// does, install production dependencies only, and run it with the production config on PostgreSQL.
const root = resolve(__dirname, '..');
const port = 7207;
const baseUrl = `http://localhost:${port}`;
const databasePrefix = `portico_image_${process.pid}_`;
const adminUrl = 'postgresql://portico:portico@127.0.0.1:5432';
const run = (command: string, args: string[], cwd: string) => {
  try {
    return execFileSync(command, args, {
      cwd,
      stdio: 'pipe',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    // yarn prints its errors to standard output, which the error's message leaves out.
    const { stdout } = error as { stdout?: Buffer };
    const tail = stdout?.toString().trim().split('\n').slice(-20).join('\n');
    throw new Error(`${(error as Error).message}\n${tail ?? ''}`);
  }
};

test.describe.configure({ mode: 'serial' });

let appDir: string;
let backend: ChildProcess | undefined;
let backendOutput = '';

test.beforeAll(async () => {
  test.setTimeout(900_000);
  run('yarn', ['build:backend'], root);

  appDir = mkdtempSync(join(tmpdir(), 'portico-image-'));
  for (const file of [
    '.yarnrc.yml',
    'backstage.json',
    'package.json',
    'yarn.lock',
  ]) {
    cpSync(join(root, file), join(appDir, file));
  }
  cpSync(join(root, '.yarn/releases'), join(appDir, '.yarn/releases'), {
    recursive: true,
  });
  run(
    'tar',
    ['xzf', join(root, 'packages/backend/dist/skeleton.tar.gz')],
    appDir,
  );
  run('yarn', ['workspaces', 'focus', '--all', '--production'], appDir);
  run(
    'tar',
    ['xzf', join(root, 'packages/backend/dist/bundle.tar.gz')],
    appDir,
  );
  cpSync(
    join(root, 'app-config.production.yaml'),
    join(appDir, 'app-config.production.yaml'),
  );
  mkdirSync(join(appDir, 'techdocs'));

  backend = spawn(
    'node',
    ['packages/backend', '--config', 'app-config.production.yaml'],
    {
      cwd: appDir,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        PORTICO_PORT: String(port),
        PORTICO_BASE_URL: baseUrl,
        POSTGRES_HOST: '127.0.0.1',
        POSTGRES_PORT: '5432',
        POSTGRES_USER: 'portico',
        POSTGRES_PASSWORD: 'portico',
        POSTGRES_DATABASE_PREFIX: databasePrefix,
        AUTH_GITHUB_CLIENT_ID: 'portico-image-test',
        AUTH_GITHUB_CLIENT_SECRET: 'not-a-real-secret',
        TECHDOCS_DIRECTORY: join(appDir, 'techdocs'),
      },
    },
  );
  backend.stdout!.on('data', chunk => (backendOutput += chunk));
  backend.stderr!.on('data', chunk => (backendOutput += chunk));
});

test.afterAll(async () => {
  if (backend && backend.exitCode === null && backend.signalCode === null) {
    const exited = new Promise(resolve => backend!.once('exit', resolve));
    backend.kill('SIGTERM');
    await exited;
  }
  // The databases the bundle created, one per plugin.
  const databases = run(
    'psql',
    [
      `${adminUrl}/postgres`,
      '-qtAc',
      `select datname from pg_database where starts_with(datname, '${databasePrefix}')`,
    ],
    root,
  )
    .toString()
    .split('\n')
    .filter(Boolean);
  for (const name of databases) {
    run(
      'psql',
      [`${adminUrl}/postgres`, '-qtAc', `drop database if exists "${name}"`],
      root,
    );
  }
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

test('the production bundle becomes ready on PostgreSQL', async ({
  request,
}) => {
  await expect
    .poll(
      async () => {
        if (backend?.exitCode !== null) {
          throw new Error(`the backend exited:\n${backendOutput.slice(-4000)}`);
        }
        const res = await request
          .get(`${baseUrl}/.backstage/health/v1/readiness`)
          .catch(() => undefined);
        return res?.status();
      },
      { timeout: 180_000, intervals: [1_000] },
    )
    .toBe(200);
  // It really is on PostgreSQL: the catalog made its own database there.
  const catalogDatabase = run(
    'psql',
    [
      `${adminUrl}/postgres`,
      '-qtAc',
      `select count(*) from pg_database where datname = '${databasePrefix}catalog'`,
    ],
    root,
  );
  expect(catalogDatabase.toString().trim()).toBe('1');
});

test('an unauthenticated catalog request is refused with 401', async ({
  request,
}) => {
  const res = await request.get(`${baseUrl}/api/catalog/entities`);
  expect(res.status()).toBe(401);
});

test('production has no guest sign-in, and offers GitHub instead', async ({
  request,
}) => {
  const guest = await request.get(`${baseUrl}/api/auth/guest/refresh`, {
    headers: { 'X-Requested-With': 'XMLHttpRequest' },
  });
  expect(guest.status()).toBe(404);
  const github = await request.get(
    `${baseUrl}/api/auth/github/start?env=production`,
    {
      maxRedirects: 0,
    },
  );
  expect(github.status()).toBe(302);
  expect(github.headers().location).toContain('client_id=portico-image-test');
});

test('the backend serves the Portico frontend', async ({ request }) => {
  const res = await request.get(`${baseUrl}/`);
  expect(res.status()).toBe(200);
  expect(await res.text()).toContain('<title>Portico</title>');
});

test('people are offered GitHub sign-in, and no guest entrance', async ({
  page,
}) => {
  await page.goto(baseUrl);
  await expect(page.getByText('Sign in to Portico')).toBeVisible();
  await expect(
    page.getByText('Sign in with your company GitHub account'),
  ).toBeVisible();
  await expect(page.getByText('Enter as a Guest User.')).toHaveCount(0);
});
