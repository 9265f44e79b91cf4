import { minimatch } from 'minimatch';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Repositories are looked for this many directories below the prefix (e.g. group/subgroup/repo.git).
const MAX_DEPTH = 4;

/**
 * Repositories named by glob under a remote prefix that is a directory of this machine (a `file://` URL or
 * a path), as a self-hosted server's repository root. Git's protocol cannot list a server's repositories,
 * so other prefixes take a list of names.
 */
export class RepositoryDiscovery {
  private readonly root: string;

  constructor(
    /** Ends with `/`; a repository's URL is the prefix followed by its path under it. */
    readonly prefix: string,
    private readonly patterns: string[],
  ) {
    this.root = prefix.startsWith('file://') ? fileURLToPath(prefix) : prefix;
  }

  /** Every repository under the prefix that a pattern matches; throws when the directory cannot be read. */
  async list(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (relative: string, depth: number) => {
      const entries = await readdir(join(this.root, relative), {
        withFileTypes: true,
      });
      const names = new Set(entries.map(e => e.name));
      const isBare = names.has('HEAD') && names.has('objects');
      if (relative && (isBare || names.has('.git'))) {
        if (this.matchesName(relative)) found.push(`${this.prefix}${relative}`);
        return;
      }
      if (depth === MAX_DEPTH) return;
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('.')) {
          await walk(
            relative ? `${relative}/${entry.name}` : entry.name,
            depth + 1,
          );
        }
      }
    };
    if (!(await stat(this.root)).isDirectory()) {
      throw new Error(`${this.root} is not a directory`);
    }
    await walk('', 0);
    return found.sort();
  }

  /** Whether a repository URL falls under this discovery, listed or not. */
  matches(url: string): boolean {
    return (
      url.startsWith(this.prefix) &&
      this.matchesName(url.slice(this.prefix.length))
    );
  }

  private matchesName(name: string) {
    const bare = name.replace(/\.git$/, '');
    return this.patterns.some(
      pattern => minimatch(name, pattern) || minimatch(bare, pattern),
    );
  }
}

/** Whether a repository name holds glob characters. */
export function isGlob(name: string): boolean {
  return /[*?[\]{}]/.test(name);
}

/** Whether a remote is a directory of this machine rather than a server. */
export function isLocalRemote(remote: string): boolean {
  return (
    remote.startsWith('file://') ||
    (!/^[a-z][a-z0-9+.-]*:\/\//i.test(remote) &&
      !/^[\w.-]+@[\w.-]+:/.test(remote))
  );
}
