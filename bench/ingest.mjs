// Git ingestion benchmark: Portico's Git provider against stock Backstage's `file` glob location, on the same
// descriptor files, the same backend and the same PostgreSQL. Run through `./portico bench ingest`.
//
//   ./portico bench ingest [--repos 1000] [--entities-per-repo 10] [--concurrency N] [--skip-stock]
//                          [--rounds N] [--annotated] [--daemon-nice 19]
//
// Prints the seconds until every entity is returned by the catalog API, entities per second, when the catalog
// had them inserted, processed and stitched, where the provider's time went, the time of an unchanged re-sync,
// the time to pick up a change, the backend's CPU seconds until all were queryable, peak backend RSS, and the
// ratios against stock.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchOptions,
  freePort,
  log,
  psql,
  seconds,
  sleep,
  startBackend as startPorticoBackend,
} from './backend.mjs';

const args = benchOptions(import.meta.filename, {
  repos: { type: 'string', default: '1000' },
  'entities-per-repo': { type: 'string', default: '10' },
  'skip-stock': { type: 'boolean', default: false },
  // This machine's speed moves between runs: each round runs both, and the ratios' median is printed.
  rounds: { type: 'string', default: '1' },
  // Repositories the provider reads at once; the provider's default when not given.
  concurrency: { type: 'string' },
  // The files carry the annotations that Portico adds (source location, commit), so that both sides
  // process entities of the same size: tells the cost of ingestion from the cost of those annotations.
  annotated: { type: 'boolean', default: false },
  // The git daemon's CPU priority (nice): 19 lets the backend go first, 0 shares the cores evenly.
  'daemon-nice': { type: 'string', default: '19' },
});
const repoCount = Number(args.repos);
const perRepo = Number(args['entities-per-repo']);
const total = repoCount * perRepo;
const roundCount = Number(args.rounds);
const work = mkdtempSync(join(tmpdir(), 'portico-bench-'));
const gitEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@localhost',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@localhost',
};
const git = (args, options = {}) =>
  execFileSync('git', args, {
    env: gitEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...options,
  })
    .toString()
    .trim();

function descriptor(repo, description = `Service ${repo}`) {
  return Array.from(
    { length: perRepo },
    (_, i) => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${repo}-svc-${i}
  description: ${description}
  tags: [bench]${
    args.annotated
      ? `
  annotations:
    backstage.io/source-location: url:git://127.0.0.1:00000/${repo}.git/
    portico.dev/git-commit: '${'0'.repeat(40)}'`
      : ''
  }
spec:
  type: service
  lifecycle: production
  owner: group:default/bench-team
`,
  ).join('---\n');
}

/** One commit on main with catalog-info.yaml, through fast-import: two processes per repository. */
function commitDescriptor(bare, content, parent) {
  const data = Buffer.from(content);
  const stream = [
    'commit refs/heads/main',
    `committer Bench <bench@localhost> ${Math.floor(Date.now() / 1000)} +0000`,
    'data 6',
    'bench',
    ...(parent ? [`from ${parent}`] : []),
    `M 100644 inline catalog-info.yaml`,
    `data ${data.length}`,
  ].join('\n');
  git(['fast-import', '--quiet', '--force'], {
    cwd: bare,
    input: Buffer.concat([Buffer.from(`${stream}\n`), data, Buffer.from('\n')]),
  });
  return git(['rev-parse', 'refs/heads/main'], { cwd: bare });
}

function generate() {
  const started = Date.now();
  const reposDir = join(work, 'repos');
  const checkout = join(work, 'checkout');
  const names = [];
  for (let i = 0; i < repoCount; i++) {
    const name = `repo-${String(i).padStart(5, '0')}`;
    names.push(name);
    const bare = join(reposDir, `${name}.git`);
    mkdirSync(bare, { recursive: true });
    git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    commitDescriptor(bare, descriptor(name));
    // The same file as a checkout of the repository, for stock Backstage's file location.
    mkdirSync(join(checkout, name), { recursive: true });
    writeFileSync(join(checkout, name, 'catalog-info.yaml'), descriptor(name));
  }
  log(
    `Generated ${repoCount} repositories with ${total} entities in ${seconds(
      Date.now() - started,
    )}s`,
  );
  return { reposDir, checkout, names };
}

/** The backend with the production config and `catalog`, on fresh databases; resolves once it is ready. */
async function startBackend(label, catalog) {
  const backend = await startPorticoBackend({
    label,
    work,
    config: { catalog },
  });
  return { ...backend, catalogDb: `${backend.prefix}catalog` };
}

const api = (backend, path, init = {}) =>
  backend.request(`/api/catalog${path}`, init);

async function countQueryable(backend) {
  const res = await api(
    backend,
    '/entities/by-query?filter=metadata.tags=bench&limit=0',
  );
  return res.ok ? (await res.json()).totalItems : 0;
}

/** Polls until every entity is queryable; records when the catalog had them inserted, processed, stitched. */
async function awaitIngest(backend) {
  // A slow machine stitched 73,000 entities in 30 min: the wait grows with the count (40 ms each).
  const limitMs = Math.max(1_800_000, total * 40);
  const reached = {};
  const marks = {
    inserted: `select count(*) from refresh_state where entity_ref like 'component:default/repo-%'`,
    processed: `select count(*) from refresh_state where entity_ref like 'component:default/repo-%' and result_hash is not null`,
    stitched: `select count(*) from final_entities f join refresh_state r using (entity_id) where r.entity_ref like 'component:default/repo-%' and f.final_entity is not null`,
  };
  for (;;) {
    const elapsed = Date.now() - backend.started;
    for (const [mark, sql] of Object.entries(marks)) {
      if (reached[mark] === undefined) {
        const count = Number(psql(backend.catalogDb, sql) || 0);
        if (count >= total) reached[mark] = elapsed;
        if (mark === 'inserted' && count > 0) reached.firstInserted ??= elapsed;
        if (mark === 'processed' && reached.inserted !== undefined)
          reached.processedWhenInserted ??= count;
      }
    }
    if (
      reached.firstSynced === undefined &&
      backend.output().includes('Synced ')
    )
      reached.firstSynced = elapsed;
    const queryable = await countQueryable(backend);
    if (queryable >= total) {
      reached.queryable = Date.now() - backend.started;
      reached.cpuSeconds = backend.cpuSeconds();
      // What the API returns is stitched: a mark that this poll's count just missed was reached by now.
      for (const mark of Object.keys(marks))
        reached[mark] ??= reached.queryable;
      return reached;
    }
    if (elapsed > limitMs)
      throw new Error(
        `${queryable} of ${total} entities queryable after ${seconds(
          limitMs,
        )} s`,
      );
    await sleep(500);
  }
}

async function awaitDescription(backend, name, description, since, limitMs) {
  for (;;) {
    const res = await api(
      backend,
      `/entities/by-name/component/default/${name}`,
    );
    if (res.ok && (await res.json()).metadata.description === description)
      return Date.now() - since;
    if (Date.now() - since > limitMs) return undefined;
    await sleep(250);
  }
}

/** The `index`-th (0-based) sync summary line of the backend's log, once it is there. */
async function syncLine(backend, index) {
  for (;;) {
    // Otherwise a failed run would poll for ever and the bench would not exit.
    if (backend.exited()) throw new Error('backend exited');
    const parts = backend.output().split('Synced ');
    if (parts.length > index + 1) {
      return `Synced ${parts[index + 1].split(/\n|\u001b/)[0].trim()}`;
    }
    await sleep(100);
  }
}

/** Triggers the provider's sync and waits for its summary line in the log. */
async function syncOnce(backend) {
  const before = backend.output().split('Synced ').length - 1;
  const res = await api(
    backend,
    '/.backstage/scheduler/v1/tasks/portico-git:bench:sync/trigger',
    { method: 'POST' },
  );
  if (!res.ok) {
    throw new Error(`trigger failed: ${res.status} ${await res.text()}`);
  }
  return syncLine(backend, before);
}

/**
 * Repositories that failed in a sync (the daemon resets connections under load) are read by the next
 * one, as the schedule would run it; returns the lines of those extra syncs.
 */
async function retryFailures(backend) {
  const retries = [];
  let line = await syncLine(backend, 0);
  while (/ [1-9]\d* failed/.test(line) && retries.length < 3) {
    line = await syncOnce(backend);
    retries.push(line);
  }
  return retries;
}

/**
 * The git daemon stands in for a remote Git server, whose work a real backend's host does not do: at
 * the lowest CPU priority it takes only what the backend and PostgreSQL leave idle. (In a session of its
 * own at the lowest group priority it was starved, and the first sync took 80 s instead of 47 s.)
 */
function daemon(reposDir, port) {
  return spawn(
    'nice',
    [
      `-n${args['daemon-nice']}`,
      'git',
      'daemon',
      '--reuseaddr',
      '--export-all',
      `--base-path=${reposDir}`,
      `--port=${port}`,
      '--listen=127.0.0.1',
      '--max-connections=64',
      reposDir,
    ],
    { stdio: 'ignore', env: gitEnv },
  );
}

async function runPortico({ reposDir, names }) {
  const port = await freePort();
  const server = daemon(reposDir, port);
  await sleep(500);
  const backend = await startBackend('git', {
    locations: [],
    providers: {
      git: {
        bench: {
          remotePrefix: `git://127.0.0.1:${port}/`,
          repositories: names.map(n => `${n}.git`),
          ...(args.concurrency && { concurrency: Number(args.concurrency) }),
          // Runs once at start; the bench triggers the later syncs itself.
          schedule: { frequency: { hours: 24 }, timeout: { minutes: 60 } },
        },
      },
    },
  });
  try {
    const [reached, retries] = await Promise.all([
      awaitIngest(backend),
      retryFailures(backend),
    ]);
    const firstSync = backend.output().match(/Synced [^\n\u001b]*/)?.[0];
    const resyncStart = Date.now();
    const resync = await syncOnce(backend);
    const resyncMs = Date.now() - resyncStart;

    const changed = `Changed at ${Date.now()}`;
    const bare = join(reposDir, `${names[0]}.git`);
    commitDescriptor(
      bare,
      descriptor(names[0], changed),
      git(['rev-parse', 'refs/heads/main'], { cwd: bare }),
    );
    const triggered = Date.now();
    const changeSync = syncOnce(backend);
    const changeMs = await awaitDescription(
      backend,
      `${names[0]}-svc-0`,
      changed,
      triggered,
      300_000,
    );
    return {
      reached,
      firstSync,
      retries,
      resync,
      resyncMs,
      changeSync: await changeSync,
      changeMs,
      rss: backend.peakRssMb(),
    };
  } finally {
    await backend.stop();
    server.kill();
  }
}

async function runStock({ checkout, names }) {
  const backend = await startBackend('stock', {
    locations: [{ type: 'file', target: `${checkout}/*/catalog-info.yaml` }],
  });
  try {
    const reached = await awaitIngest(backend);
    const changed = `Changed at ${Date.now()}`;
    writeFileSync(
      join(checkout, names[0], 'catalog-info.yaml'),
      descriptor(names[0], changed),
    );
    const edited = Date.now();
    const changeMs = await awaitDescription(
      backend,
      `${names[0]}-svc-0`,
      changed,
      edited,
      240_000,
    );
    return { reached, changeMs, rss: backend.peakRssMb() };
  } finally {
    await backend.stop();
  }
}

function printRun(label, run) {
  const r = run.reached;
  console.log(`\n${label}`);
  console.log(
    `  all ${total} entities queryable: ${seconds(
      r.queryable,
    )} s after backend start (${Math.round(
      total / (r.queryable / 1000),
    )} entities/s)`,
  );
  console.log(
    `  catalog had them all: first inserted ${seconds(
      r.firstInserted ?? NaN,
    )} s, all inserted ${seconds(r.inserted ?? NaN)} s, processed ${seconds(
      r.processed ?? NaN,
    )} s, stitched ${seconds(r.stitched ?? NaN)} s`,
  );
  // Portico's entities arrive over its first sync; how fast the catalog processed them meanwhile, and after.
  const after = Math.round(
    (total - r.processedWhenInserted) / ((r.processed - r.inserted) / 1000),
  );
  const arriving = r.inserted - r.firstInserted;
  console.log(
    arriving > 0
      ? `  catalog processing: ${Math.round(
          r.processedWhenInserted / (arriving / 1000),
        )} entities/s while they arrived, ${after}/s after`
      : `  catalog processing: ${after} entities/s`,
  );
  console.log(
    `  backend CPU until then: ${r.cpuSeconds.toFixed(1)} s (${Math.round(
      (100 * r.cpuSeconds) / (r.queryable / 1000),
    )} % of one core over the wall time)`,
  );
  console.log(`  peak backend RSS: ${Math.round(run.rss)} MB`);
}

async function portico(generated) {
  log(
    'Portico Git provider: git daemon on loopback, fresh catalog on PostgreSQL',
  );
  const run = await runPortico(generated);
  printRun('Portico (Git provider over git://)', run);
  const syncSeconds = line => /in ([\d.]+)s/.exec(line)?.[1];
  // When it began, from when its summary line was seen (polled every half second) and how long it took.
  console.log(
    `  first sync: began about ${seconds(
      run.reached.firstSynced - syncSeconds(run.firstSync) * 1000,
    )} s after backend start; ${run.firstSync}`,
  );
  for (const retry of run.retries) {
    console.log(`  next sync, for the repositories that failed: ${retry}`);
  }
  console.log(
    `  unchanged re-sync: ${syncSeconds(run.resync)} s (${seconds(
      run.resyncMs,
    )} s from the trigger; ${run.resync})`,
  );
  console.log(
    `  change in one repository: visible ${
      run.changeMs === undefined
        ? 'not within 300 s'
        : `${seconds(run.changeMs)} s`
    } after the sync that saw it started (${run.changeSync})`,
  );
  return run;
}

async function stock(generated) {
  log(
    'Stock Backstage: one file location with a glob over a checkout of the same repositories',
  );
  const run = await runStock(generated);
  printRun('Stock (file location glob)', run);
  console.log(
    `  edited file: visible ${
      run.changeMs === undefined
        ? 'not within 240 s'
        : `${seconds(run.changeMs)} s`
    } after the edit`,
  );
  return run;
}

const median = values => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Portico / stock of each round, and their median over the rounds. */
function printRatios(rounds) {
  const figures = {
    'time until all queryable': r =>
      r.portico.reached.queryable / r.stock.reached.queryable,
    'backend CPU until then': r =>
      r.portico.reached.cpuSeconds / r.stock.reached.cpuSeconds,
    'peak RSS': r => r.portico.rss / r.stock.rss,
  };
  console.log('\nRatio (Portico / stock; 1.0 or less is the target)');
  for (const [figure, ratio] of Object.entries(figures)) {
    const ratios = rounds.map(ratio);
    console.log(
      rounds.length === 1
        ? `  ${figure}: ${ratios[0].toFixed(2)}`
        : `  ${figure}: median ${median(ratios).toFixed(2)} (rounds: ${ratios
            .map(value => value.toFixed(2))
            .join(', ')})`,
    );
  }
}

try {
  log(
    `Bench: ${repoCount} repositories x ${perRepo} entities = ${total}; work dir ${work}`,
  );
  const generated = generate();
  const rounds = [];
  for (let round = 1; round <= roundCount; round++) {
    if (roundCount > 1) log(`Round ${round} of ${roundCount}`);
    if (args['skip-stock']) {
      await portico(generated);
    } else if (round % 2 === 1) {
      rounds.push({
        portico: await portico(generated),
        stock: await stock(generated),
      });
    } else {
      // Every other round stock goes first, so that a machine slowing over the rounds favours neither.
      const stockRun = await stock(generated);
      rounds.push({ portico: await portico(generated), stock: stockRun });
    }
  }
  if (rounds.length > 0) printRatios(rounds);
  rmSync(work, { recursive: true, force: true });
} catch (error) {
  console.error(
    `Bench failed: ${
      error.stack ?? error
    }\nBackend logs and repositories are kept in ${work}`,
  );
  process.exitCode = 1;
}
