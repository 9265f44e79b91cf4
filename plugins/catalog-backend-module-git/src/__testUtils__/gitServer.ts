import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, Server } from 'node:http';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** git without the machine's own configuration, committing as a test identity. */
export const testGitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Portico Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Portico Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

const git = (args: string[], cwd?: string) =>
  execFileSync('git', args, { cwd, stdio: 'pipe', env: testGitEnv })
    .toString()
    .trim();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForPort(port: number, open: boolean) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const isOpen = await new Promise<boolean>(resolve => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (isOpen === open) return;
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not ${open ? 'open' : 'close'}`);
}

/** Files to write (content) or delete (null), and symlinks ({ symlink: target }). */
export type RepositoryChange = Record<
  string,
  string | null | { symlink: string }
>;

/**
 * A real `git daemon` on loopback over bare repositories made by the test, each with a work tree the test
 * commits to and pushes from over the file system.
 */
export class GitDaemon {
  private readonly root = mkdtempSync(join(tmpdir(), 'portico-git-daemon-'));
  readonly repositoriesDir = join(this.root, 'repos');
  private process?: ChildProcess;
  private port = 0;

  /** With `filter`, its repositories leave out the blobs a client asks to filter, as GitHub and GitLab do. */
  private constructor(private readonly filter: boolean) {}

  static async start(options: { filter?: boolean } = {}): Promise<GitDaemon> {
    const daemon = new GitDaemon(options.filter ?? false);
    daemon.port = await freePort();
    await daemon.resume();
    return daemon;
  }

  url(name: string) {
    return `git://127.0.0.1:${this.port}/${name}.git`;
  }

  /** Creates a repository with a first commit; returns that commit. */
  createRepository(name: string, change: RepositoryChange): string {
    const bare = join(this.repositoriesDir, `${name}.git`);
    mkdirSync(bare, { recursive: true });
    git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    git(['clone', '--quiet', bare, this.workTree(name)]);
    git(['checkout', '--quiet', '-b', 'main'], this.workTree(name));
    return this.commit(name, change);
  }

  /** Applies the change to the repository, commits and pushes it; returns the new commit. */
  commit(name: string, change: RepositoryChange): string {
    const work = this.workTree(name);
    for (const [path, content] of Object.entries(change)) {
      const file = join(work, path);
      rmSync(file, { force: true });
      if (content === null) continue;
      mkdirSync(dirname(file), { recursive: true });
      if (typeof content === 'string') writeFileSync(file, content);
      else symlinkSync(content.symlink, file);
    }
    git(['add', '-A'], work);
    git(
      [
        'commit',
        '--quiet',
        '--allow-empty',
        '-m',
        `change ${Object.keys(change).join(', ')}`,
      ],
      work,
    );
    git(['push', '--quiet', 'origin', 'main'], work);
    return git(['rev-parse', 'HEAD'], work);
  }

  /** Deletes the repository from the server. */
  deleteRepository(name: string) {
    rmSync(join(this.repositoriesDir, `${name}.git`), {
      recursive: true,
      force: true,
    });
  }

  /** Stops answering, as a server that is down. */
  async pause() {
    this.process?.kill('SIGTERM');
    this.process = undefined;
    await waitForPort(this.port, false);
  }

  async resume() {
    const repos = this.repositoriesDir;
    mkdirSync(repos, { recursive: true });
    this.process = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        '--export-all',
        `--base-path=${repos}`,
        `--port=${this.port}`,
        '--listen=127.0.0.1',
        repos,
      ],
      {
        stdio: 'ignore',
        // Git's environment form of `-c`, which the upload-pack processes it starts inherit.
        env: this.filter
          ? {
              ...process.env,
              GIT_CONFIG_PARAMETERS: "'uploadpack.allowfilter'='true'",
            }
          : process.env,
      },
    );
    await waitForPort(this.port, true);
  }

  async stop() {
    await this.pause();
    rmSync(this.root, { recursive: true, force: true });
  }

  private workTree(name: string) {
    return join(this.root, 'work', name);
  }
}

/**
 * Git's smart HTTP protocol, served by the real `git http-backend` behind basic auth: the password must be
 * `token` (any user name), as with the access tokens of GitHub, GitLab and most hosts.
 */
export async function startSmartHttp(
  daemon: GitDaemon,
  token: string,
): Promise<{
  url: (name: string) => string;
  /** Each request's method and path, in the order they came. */
  requests: string[];
  stop: () => Promise<void>;
}> {
  const requests: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const [, credentials = ''] = (req.headers.authorization ?? '').split(
      'Basic ',
    );
    const password = Buffer.from(credentials, 'base64')
      .toString()
      .split(':')
      .slice(1)
      .join(':');
    if (password !== token) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: daemon.repositoriesDir,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method,
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        // As web servers pass every request header: this one asks for protocol v2.
        HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: 'portico',
      },
    });
    req.pipe(cgi.stdin);
    // CGI output: headers, a blank line, then the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const [name, ...value] = line.split(': ');
        if (name.toLowerCase() === 'status')
          status = parseInt(value.join(': '), 10);
        else res.setHeader(name, value.join(': '));
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: name => `http://127.0.0.1:${port}/${name}.git`,
    requests,
    stop: () => new Promise(resolve => server.close(() => resolve())),
  };
}
