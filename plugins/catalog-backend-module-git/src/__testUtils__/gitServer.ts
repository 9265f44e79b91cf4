import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const git = (args: string[], cwd?: string) =>
  execFileSync('git', args, {
    cwd,
    stdio: 'pipe',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Portico Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Portico Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    },
  })
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
  private process?: ChildProcess;
  private port = 0;

  static async start(): Promise<GitDaemon> {
    const daemon = new GitDaemon();
    daemon.port = await freePort();
    await daemon.resume();
    return daemon;
  }

  url(name: string) {
    return `git://127.0.0.1:${this.port}/${name}.git`;
  }

  /** Creates a repository with a first commit; returns that commit. */
  createRepository(name: string, change: RepositoryChange): string {
    const bare = join(this.root, 'repos', `${name}.git`);
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

  /** Stops answering, as a server that is down. */
  async pause() {
    this.process?.kill('SIGTERM');
    this.process = undefined;
    await waitForPort(this.port, false);
  }

  async resume() {
    const repos = join(this.root, 'repos');
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
      { stdio: 'ignore' },
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
