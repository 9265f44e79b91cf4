// DORA benchmark: summaries answered live from a large history, the batch API's ingestion rate, and the
// same core aggregate run by PostgreSQL alone. Run through `./portico bench dora`.
//
//   ./portico bench dora [--deployments 1000000] [--services 1000] [--days 730] [--incidents 50000]
//                        [--sqlite-deployments 100000] [--skip-sqlite]
//
// The history is written straight into the DORA tables with generate_series (two changes a deployment,
// every deployment linked), so loading takes minutes rather than the hours the API would; the API's own
// rate is measured separately on fresh events.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchOptions,
  latencies,
  log,
  sleep,
  pgUrl,
  root,
  seconds,
  startBackend,
  psql,
} from './backend.mjs';

const args = benchOptions(import.meta.filename, {
  deployments: { type: 'string', default: '1000000' },
  services: { type: 'string', default: '1000' },
  days: { type: 'string', default: '730' },
  incidents: { type: 'string', default: '50000' },
  'sqlite-deployments': { type: 'string', default: '100000' },
  'skip-sqlite': { type: 'boolean', default: false },
});
const deployments = Number(args.deployments);
const services = Number(args.services);
const days = Number(args.days);
const incidents = Number(args.incidents);
const work = mkdtempSync(join(tmpdir(), 'portico-bench-dora-'));
const now = Date.now();
const DAY_MS = 86_400_000;

/** The rows, as SQL both databases run; `series` is how each dialect counts 1..n. */
function historySql({ count, series }) {
  const t = `${now} - ((i * 7919) % (${days} * 86400)) * 1000`;
  return [
    `INSERT INTO dora_deployments (source, external_id, entity_ref, owner_ref, system_ref, attribution_key,
       environment, production, succeeded, finished_at, local_day, rollback, unplanned_fix, failed, recovered_at,
       shipped_changes)
     SELECT 'bench', 'd' || i, 'component:default/svc-' || (i % ${services}),
       'group:default/team-' || (i % ${services} % 50), 'system:default/sys-' || (i % ${services} % 100),
       'entityRef=component:default/svc-' || (i % ${services}), 'production', true, true,
       ${t}, (${t}) / ${DAY_MS}, i % 50 = 0, i % 50 = 0 OR i % 97 = 0, i % 12 = 0,
       CASE WHEN i % 12 = 0 THEN ${t} + (1 + i % 7) * 1800000 END, 2
     FROM ${series(count)}`,
    // Two changes a deployment: first commit up to three days before it, merged up to two hours before.
    `INSERT INTO dora_changes (source, change_key, entity_ref, owner_ref, system_ref, attribution_key,
       first_commit_at, merged_at, link_at, deployment_id, deployed_at, deployed_day)
     SELECT 'bench', 'bench:' || d.id || '-' || k.k, d.entity_ref, d.owner_ref, d.system_ref, d.attribution_key,
       d.finished_at - (600 + (d.id * 31 + k.k * 17) % 259200) * 1000,
       d.finished_at - (60 + (d.id * 13 + k.k) % 7200) * 1000,
       d.finished_at - (60 + (d.id * 13 + k.k) % 7200) * 1000,
       d.id, d.finished_at, d.local_day
     FROM dora_deployments d CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2) k`,
    `INSERT INTO dora_incidents (source, external_id, entity_ref, owner_ref, system_ref, attribution_key,
       detected_at, resolved_at, deployment_id)
     SELECT 'bench', 'i' || d.id, d.entity_ref, d.owner_ref, d.system_ref, d.attribution_key,
       d.finished_at + 600000, d.recovered_at, d.id
     FROM dora_deployments d WHERE d.failed ORDER BY d.id LIMIT ${Math.round(
       (incidents * count) / deployments,
     )}`,
  ];
}

/** The figures a summary is mostly made of, as one statement each, for PostgreSQL to time alone. */
const coreAggregate = from => [
  `SELECT COUNT(*), SUM(CASE WHEN d.failed THEN 1 ELSE 0 END),
     SUM(CASE WHEN d.unplanned_fix OR d.rollback OR d.fix_of IS NOT NULL THEN 1 ELSE 0 END)
   FROM dora_deployments d WHERE d.production AND d.succeeded AND d.finished_at >= ${from} AND d.finished_at < ${now}`,
  `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY c.deployed_at - c.first_commit_at),
     percentile_cont(0.9) WITHIN GROUP (ORDER BY c.deployed_at - c.first_commit_at)
   FROM dora_changes c WHERE c.deployed_at >= ${from} AND c.deployed_at < ${now}
     AND c.deployed_at > c.first_commit_at`,
];

/** Median over runs of what psql's \timing reports for the statements together. */
function psqlMilliseconds(database, statements, runs = 10) {
  const script = [
    '\\timing on',
    ...Array(runs).fill(statements.join(';\n') + ';'),
  ].join('\n');
  const out = execFileSync('psql', [`${pgUrl}/${database}`, '-qtA'], {
    input: script,
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
  const times = [...out.matchAll(/Time: ([\d.]+) ms/g)].map(m => Number(m[1]));
  const perRun = [];
  for (let i = 0; i < runs; i++) {
    const slice = times.slice(
      i * statements.length,
      (i + 1) * statements.length,
    );
    perRun.push(slice.reduce((a, b) => a + b, 0));
  }
  perRun.sort((a, b) => a - b);
  return perRun[Math.floor(runs / 2)];
}

let liveWrites = 0;

/** One deployment of now, with a commit, as CI sends them while people look at the page. */
async function writeOne(backend) {
  const n = liveWrites++;
  const res = await backend.request('/api/dora/deployments', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      id: `live-${n}`,
      entityRef: `component:default/svc-${(n * 37) % services}`,
      finishedAt: new Date(now + n).toISOString(),
      commits: [
        {
          sha: `f${String(n).padStart(39, '0')}`,
          committedAt: new Date(now - 3_600_000).toISOString(),
        },
      ],
    }),
  });
  if (res.status !== 202)
    throw new Error(`write: ${res.status} ${await res.text()}`);
}

/**
 * Latencies of a 90-day summary: asked again and again, as a page's viewers do (the backend keeps the
 * summary until the next write), computed afresh, each request ending a millisecond later than the last
 * (the backend's kept days answer, see plugins/dora-backend/README.md), and afresh after a deployment
 * of now was written (untimed), as on a live portal.
 */
async function summaryLatencies(backend, label, query) {
  const get = async extra => {
    const res = await backend.request(
      `/api/dora/summary?${new URLSearchParams({
        window: '90',
        ...query,
        ...extra,
      })}`,
    );
    if (!res.ok) throw new Error(`${label}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  // The scope's first request reads every day of the window: nothing is kept yet.
  const started = process.hrtime.bigint();
  const body = await get({});
  const first = Number(process.hrtime.bigint() - started) / 1e6;
  const repeated = await latencies(() => get({}));
  let end = now + 60_000;
  const fresh = await latencies(() =>
    get({ to: new Date(end++).toISOString() }),
  );
  const afterWrite = await latencies(
    () => get({ to: new Date(end++).toISOString() }),
    { before: () => writeOne(backend) },
  );
  return {
    first,
    repeated,
    fresh,
    afterWrite,
    deployments: body.deploymentFrequency.deployments,
    changes: body.leadTime.changes,
  };
}

const ms = value => `${value.toFixed(1)} ms`;
const count = value => value.toLocaleString('en-US');

/** Requests of 1,000 deployments, each with a commit, sent 4 at once as CI pipelines send them. */
const BATCH_SIZE = 1000;
const IN_FLIGHT = 4;
/** Untimed, as a backend that has been taking events runs: its code compiled, its catalog lookups cached. */
const WARMUP_BATCHES = 8;
/** Timed: long enough that one slow transaction moves the rate by little. */
const TIMED_BATCHES = 60;

/** Deployments a second that the batch API stored, over batches `first` to `first + count - 1`. */
async function ingestRate(backend, first, count) {
  const started = Date.now();
  let next = first;
  const worker = async () => {
    while (next < first + count) {
      const b = next++;
      const items = Array.from({ length: BATCH_SIZE }, (_, i) => {
        const n = b * BATCH_SIZE + i;
        return {
          id: `api-${b}-${i}`,
          entityRef: `component:default/svc-${n % services}`,
          finishedAt: new Date(now - n * 1000).toISOString(),
          commits: [
            {
              sha: `${b}`.padStart(8, 'a') + `${i}`.padStart(32, '0'),
              committedAt: new Date(now - n * 1000 - 3_600_000).toISOString(),
            },
          ],
        };
      });
      const res = await backend.request('/api/dora/deployments', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ items }),
      });
      if (res.status !== 202)
        throw new Error(`ingest: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return (count * BATCH_SIZE) / ((Date.now() - started) / 1000);
}

/**
 * The services, teams and systems the history belongs to, as a catalog file: events name their service,
 * and an event attributed to a catalog entity is what the batch API stores and relinks.
 */
function catalogOfServices() {
  const file = join(work, 'services.yaml');
  const documents = [];
  for (let team = 0; team < 50; team++) {
    documents.push({
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Group',
      metadata: { name: `team-${team}` },
      spec: { type: 'team', children: [] },
    });
  }
  for (let system = 0; system < 100; system++) {
    documents.push({
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'System',
      metadata: { name: `sys-${system}` },
      spec: { owner: `team-${system % 50}` },
    });
  }
  for (let service = 0; service < services; service++) {
    documents.push({
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: `svc-${service}` },
      spec: {
        type: 'service',
        lifecycle: 'production',
        owner: `team-${service % 50}`,
        system: `sys-${service % 100}`,
      },
    });
  }
  writeFileSync(file, documents.map(d => JSON.stringify(d)).join('\n---\n'));
  return {
    locations: [{ type: 'file', target: file }],
    rules: [{ allow: ['Component', 'System', 'Group', 'Location'] }],
  };
}

/** Waits until the catalog returns every service, so that events are attributed to them. */
async function awaitServices(backend) {
  for (;;) {
    const res = await backend.request(
      '/api/catalog/entities/by-query?filter=kind=component&limit=0',
    );
    if (res.ok && (await res.json()).totalItems >= services) return;
    await sleep(1000);
  }
}

async function postgres() {
  log(
    `PostgreSQL: ${deployments} deployments, ${
      2 * deployments
    } changes, ${incidents} incidents, ${services} services over ${days} days`,
  );
  const backend = await startBackend({
    label: 'dora',
    work,
    config: { dora: { timeZone: 'UTC' }, catalog: catalogOfServices() },
  });
  const database = `${backend.prefix}dora`;
  const loadStarted = Date.now();
  const series = n => `generate_series(1::bigint, ${n}) AS s(i)`;
  for (const sql of historySql({ count: deployments, series }))
    psql(database, sql);
  // As autovacuum leaves tables that were written long ago.
  psql(
    database,
    'VACUUM ANALYZE dora_deployments, dora_changes, dora_incidents',
  );
  log(`Loaded in ${seconds(Date.now() - loadStarted)}s`);
  await awaitServices(backend);

  // The backend's first request opens its connections: a scope not measured takes that cost.
  await backend.request(
    `/api/dora/summary?window=90&systemRef=system:default/sys-1`,
  );
  const org = await summaryLatencies(backend, 'org', {});
  const team = await summaryLatencies(backend, 'team', {
    groupRef: 'group:default/team-7',
  });
  const entity = await summaryLatencies(backend, 'entity', {
    entityRef: 'component:default/svc-42',
  });
  const direct = psqlMilliseconds(database, coreAggregate(now - 90 * DAY_MS));
  const coldRate = await ingestRate(backend, 0, WARMUP_BATCHES);
  const rate = await ingestRate(backend, WARMUP_BATCHES, TIMED_BATCHES);
  await backend.stop();
  return { org, team, entity, direct, rate, coldRate };
}

async function sqlite() {
  const count = Number(args['sqlite-deployments']);
  const directory = join(work, 'sqlite');
  mkdirSync(directory);
  const config = {
    backend: {
      database: { client: 'better-sqlite3', connection: { directory } },
    },
    dora: { timeZone: 'UTC' },
    catalog: { locations: [] },
  };
  log(`SQLite: ${count} deployments, ${2 * count} changes`);
  // A first start creates the tables; the history is written while the backend is stopped.
  let backend = await startBackend({ label: 'dora_sqlite', work, config });
  await backend.stop();
  const Database = createRequire(join(root, 'packages/backend/package.json'))(
    'better-sqlite3',
  );
  const db = new Database(join(directory, 'dora.sqlite'));
  const series = n =>
    `(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s)`;
  const loadStarted = Date.now();
  for (const sql of historySql({ count, series })) db.exec(sql);
  db.exec('ANALYZE');
  db.close();
  log(`Loaded in ${seconds(Date.now() - loadStarted)}s`);
  backend = await startBackend({
    label: 'dora_sqlite',
    work,
    config,
    keepDatabases: true,
  });
  const org = await summaryLatencies(backend, 'sqlite org', {});
  await backend.stop();
  return { count, org };
}

const pg = await postgres();
const lite = args['skip-sqlite'] ? undefined : await sqlite();
/** One scope's three ways of asking, as printed for each. */
const ways = ({ first, fresh, afterWrite, repeated }) =>
  `first ${ms(first)}; afresh p50 ${ms(fresh.p50)}, p95 ${ms(
    fresh.p95,
  )}; after a write p50 ${ms(afterWrite.p50)}, p95 ${ms(
    afterWrite.p95,
  )}; again p50 ${ms(repeated.p50)}, p95 ${ms(repeated.p95)}`;
console.log(`
PostgreSQL, ${deployments} deployments over ${days} days (90-day summaries through the API, 40 runs each;
computed afresh, and asked again as a page's viewers do, answered from the backend's copy until the next write)
  organisation: ${ways(pg.org)} (${pg.org.deployments} deployments, ${
  pg.org.changes
} changes in the window)
  team:         ${ways(pg.team)} (${pg.team.deployments} deployments)
  entity:       ${ways(pg.entity)} (${pg.entity.deployments} deployments)
  core aggregate in psql alone: ${ms(
    pg.direct,
  )}; organisation afresh p50 / psql: ${(pg.org.fresh.p50 / pg.direct).toFixed(
  2,
)} (target 1.5 or less), first / psql: ${(pg.org.first / pg.direct).toFixed(2)}
  batch API: ${Math.round(pg.rate)} deployments/s over ${count(
  TIMED_BATCHES * BATCH_SIZE,
)} (target 5,000), each with a commit, ${count(
  BATCH_SIZE,
)} a request, ${IN_FLIGHT} requests at once;
    the ${count(
      WARMUP_BATCHES * BATCH_SIZE,
    )} untimed before them, the first this backend ingested: ${Math.round(
  pg.coldRate,
)}/s`);
if (lite) {
  console.log(`
SQLite (the embedded default), ${lite.count} deployments
  organisation, 90 days: ${ways(lite.org)} (${
    lite.org.deployments
  } deployments in the window)`);
}
console.log(`\nLogs and data: ${work}`);
