// What the benchmarks share: a Portico backend started on fresh databases, PostgreSQL by psql, output.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const root = resolve(import.meta.dirname, '..');
export const pgUrl =
  process.env.PORTICO_PG_URL ?? 'postgresql://portico:portico@127.0.0.1:5432';
export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const seconds = ms => (ms / 1000).toFixed(1);
// Ctrl-C or a kill ends the bench through its 'exit' handlers, which stop the backends it started.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.once(signal, () => process.exit(code));
}

/**
 * The options of a bench script, as `parseArgs` reads them; every string option is a whole number. With
 * `--help`, or an option that is unknown or not a number, prints the script's opening comment (its usage)
 * and exits.
 */
export function benchOptions(script, options) {
  const usage = () =>
    readFileSync(script, 'utf8')
      .split('\n')
      .filter((line, i, lines) =>
        lines.slice(0, i + 1).every(l => l.startsWith('//')),
      )
      .map(line => line.replace(/^\/\/ ?/, ''))
      .join('\n');
  let values;
  try {
    ({ values } = parseArgs({
      options: { ...options, help: { type: 'boolean', default: false } },
    }));
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === 'string' && !/^-?\d+$/.test(value)) {
        throw new Error(`--${name} takes a whole number, not '${value}'`);
      }
    }
  } catch (error) {
    console.error(`${error.message}\n\n${usage()}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  return values;
}

export const log = message =>
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

export async function freePort() {
  return new Promise(done => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

export function psql(database, sql) {
  return execFileSync('psql', [`${pgUrl}/${database}`, '-qtAc', sql], {
    maxBuffer: 64 * 1024 * 1024,
  })
    .toString()
    .trim();
}

export function dropDatabases(prefix) {
  for (const name of psql(
    'postgres',
    `select datname from pg_database where datname like '${prefix}%'`,
  )
    .split('\n')
    .filter(Boolean)) {
    psql('postgres', `drop database "${name}" with (force)`);
  }
}

/**
 * Starts the backend with the production config and `config` on top, on fresh `portico_bench_<label>_*`
 * databases; resolves once it is ready. Requests carry a static token (`backend.request`).
 */
export async function startBackend({ label, config, work, keepDatabases }) {
  const port = await freePort();
  const prefix = `portico_bench_${label}_`;
  if (!keepDatabases) dropDatabases(prefix);
  const token = randomBytes(24).toString('hex');
  const configFile = join(work, `${label}.yaml`);
  writeFileSync(
    configFile,
    JSON.stringify({
      ...config,
      backend: {
        ...config.backend,
        auth: {
          externalAccess: [
            { type: 'static', options: { token, subject: 'portico-bench' } },
          ],
        },
      },
    }),
  );
  const logFile = join(work, `${label}.log`);
  // Straight to the file, not through a pipe: a backend whose reader died spun on EPIPE, taking a core
  // from every run after.
  const logFd = openSync(logFile, 'a');
  // What this backend wrote: the file may hold an earlier backend's output under the same label.
  const logStart = statSync(logFile).size;
  const url = new URL(pgUrl);
  // What `backstage-cli package start` runs, without its watcher: an edit to the sources during a run
  // would restart the backend in the middle of a measurement.
  const child = spawn(
    process.execPath,
    [
      '--enable-source-maps',
      '--require',
      join(root, 'node_modules/@backstage/cli-node/config/nodeTransform.cjs'),
      'src/index',
      '--config',
      '../../app-config.production.yaml',
      '--config',
      configFile,
    ],
    {
      cwd: join(root, 'packages/backend'),
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        PORTICO_PORT: String(port),
        PORTICO_BASE_URL: `http://localhost:${port}`,
        POSTGRES_HOST: url.hostname,
        POSTGRES_PORT: url.port || '5432',
        POSTGRES_USER: decodeURIComponent(url.username),
        POSTGRES_PASSWORD: decodeURIComponent(url.password),
        POSTGRES_DATABASE_PREFIX: prefix,
        AUTH_GITHUB_CLIENT_ID: 'portico-bench-client',
        AUTH_GITHUB_CLIENT_SECRET: 'portico-bench-not-a-secret',
        LOG_LEVEL: 'info',
      },
    },
  );
  closeSync(logFd);
  // A bench that fails or is stopped leaves no backend behind. It is exiting and cannot wait: a backend
  // told to stop whose parent had gone stopped its tasks and then hung.
  const stopOnExit = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  };
  process.once('exit', stopOnExit);
  // Ended on its own or by a signal (then without an exit code).
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const started = Date.now();
  const base = `http://localhost:${port}`;
  for (;;) {
    if (hasExited()) throw new Error(`backend exited; see ${logFile}`);
    const ready = await fetch(`${base}/.backstage/health/v1/readiness`).then(
      r => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() - started > 300_000)
      throw new Error(`backend not ready after 5 min; see ${logFile}`);
    await sleep(250);
  }
  const pid = execFileSync('ss', ['-Hltnp', `sport = :${port}`])
    .toString()
    .match(/pid=(\d+)/)[1];
  return {
    base,
    started,
    prefix,
    logFile,
    output: () => readFileSync(logFile).subarray(logStart).toString(),
    exited: hasExited,
    request: (path, init = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, ...init.headers },
      }),
    // utime + stime of the backend alone, in clock ticks (100 per second on Linux).
    cpuSeconds: () =>
      readFileSync(`/proc/${pid}/stat`, 'utf8')
        // The command name, in parentheses, may hold spaces.
        .split(') ')[1]
        .split(' ')
        .slice(11, 13)
        .reduce((sum, ticks) => sum + Number(ticks), 0) / 100,
    peakRssMb: () =>
      Number(
        /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1],
      ) / 1024,
    // Told to stop, a production backend waits for the events bus's long polls to its own router (up to
    // a minute) before it exits: what it had to finish is done well within a few seconds.
    stop: async () => {
      process.off('exit', stopOnExit);
      if (hasExited()) return;
      const exited = new Promise(r => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      let timer;
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise(r => {
          timer = setTimeout(() => r(false), 5000);
        }),
      ]);
      clearTimeout(timer);
      if (!stopped) {
        stopOnExit();
        await exited;
      }
    },
  };
}

/**
 * p50 and p95 of `runs` sequential calls of `fn`, in milliseconds, after `warmup` unmeasured ones;
 * `before` runs untimed ahead of each measured call.
 */
export async function latencies(
  fn,
  { runs = 40, warmup = 3, before = async () => {} } = {},
) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    await before();
    const started = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const at = p =>
    times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: at(0.5), p95: at(0.95) };
}
