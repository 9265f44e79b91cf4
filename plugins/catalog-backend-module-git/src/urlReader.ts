import {
  UrlReaderService,
  UrlReaderServiceReadTreeOptions,
  UrlReaderServiceReadTreeResponse,
  UrlReaderServiceReadUrlOptions,
  UrlReaderServiceReadUrlResponse,
  UrlReaderServiceSearchOptions,
  UrlReaderServiceSearchResponse,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import {
  ReadTreeResponseFactory,
  ReaderFactory,
  urlReaderFactoriesServiceRef,
} from '@backstage/backend-defaults/urlReader';
import { NotFoundError, NotModifiedError } from '@backstage/errors';
import { minimatch } from 'minimatch';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readProviderConfigs } from './config';
import { GitCli } from './git';
import { remoteUrl } from './locations';

const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Reads `<remote>/<path>` URLs, the locations the Git provider gives entities from servers without a known
 * web UI, so that TechDocs `dir:` references and other readers work with any Git server.
 */
export class GitUrlReader implements UrlReaderService {
  static factory: ReaderFactory = ({ config, treeResponseFactory }) => {
    const cacheRoot =
      config.getOptionalString('backend.workingDirectory') ?? tmpdir();
    return readProviderConfigs(config).map(provider => {
      const reader = new GitUrlReader(
        [
          ...provider.settings.repositories,
          ...(provider.settings.discovery
            ? [provider.settings.discovery.prefix]
            : []),
        ].map(remoteUrl),
        provider.settings.branch,
        new GitCli({
          cacheDir: join(cacheRoot, 'portico-git-reader', provider.settings.id),
          timeoutMs: provider.timeoutSeconds * 1000,
          token: provider.token,
        }),
        treeResponseFactory,
      );
      return {
        predicate: url => reader.split(url.toString()) !== undefined,
        reader,
      };
    });
  };

  constructor(
    /** Remote URLs, and prefixes of discovered ones (ending in `/`). */
    private readonly remotes: string[],
    private readonly branch: string | undefined,
    private readonly git: GitCli,
    private readonly treeResponseFactory: ReadTreeResponseFactory,
  ) {}

  /** The remote and the path in it that a URL names; undefined when it is not under our remotes. */
  split(url: string): { remote: string; path: string } | undefined {
    for (const remote of this.remotes) {
      if (remote.endsWith('/') && url.startsWith(remote)) {
        // A discovered repository: its name ends at the first `.git` segment.
        const match = /^(.*?\.git)(?:\/(.*))?$/.exec(url.slice(remote.length));
        if (match) {
          return { remote: remote + match[1], path: trimSlashes(match[2]) };
        }
      } else if (url === remote || url.startsWith(`${remote}/`)) {
        return {
          remote,
          path: trimSlashes(url.slice(remote.length + 1)),
        };
      }
    }
    return undefined;
  }

  async read(url: string): Promise<Buffer> {
    const response = await this.readUrl(url);
    return response.buffer();
  }

  async readUrl(
    url: string,
    options?: UrlReaderServiceReadUrlOptions,
  ): Promise<UrlReaderServiceReadUrlResponse> {
    const { commit, path } = await this.fetch(url, options?.etag);
    const objects = await this.git.objects();
    const content = await objects
      .read(`${commit}:${path}`, MAX_FILE_BYTES)
      .catch(() => {
        throw new NotFoundError(`${url} does not exist at ${commit}`);
      });
    if (!Buffer.isBuffer(content)) {
      throw new NotFoundError(`${url} is over ${MAX_FILE_BYTES} bytes`);
    }
    return {
      buffer: async () => content,
      stream: () => Readable.from(content),
      etag: commit,
    };
  }

  async readTree(
    url: string,
    options?: UrlReaderServiceReadTreeOptions,
  ): Promise<UrlReaderServiceReadTreeResponse> {
    const { mirror, commit, path } = await this.fetch(url, options?.etag);
    return this.treeResponseFactory.fromTarArchive({
      stream: this.git.archive(mirror, commit, path),
      subpath: path,
      etag: commit,
      filter: options?.filter,
      stripFirstDirectory: false,
    });
  }

  async search(
    url: string,
    options?: UrlReaderServiceSearchOptions,
  ): Promise<UrlReaderServiceSearchResponse> {
    const { commit, path: pattern } = await this.fetch(url, options?.etag);
    const { remote } = this.split(url)!;
    const objects = await this.git.objects();
    const matches = await objects.listTree(commit, dir =>
      minimatch(dir, pattern, { partial: true }),
    );
    return {
      etag: commit,
      files: matches
        .filter(entry => minimatch(entry.path, pattern))
        .map(entry => ({
          url: `${remote}/${entry.path}`,
          content: () => this.read(`${remote}/${entry.path}`),
        })),
    };
  }

  toString() {
    return `portico-git{remotes=${this.remotes.join(',')}}`;
  }

  private async fetch(url: string, etag?: string) {
    const target = this.split(url);
    if (!target) throw new NotFoundError(`${url} is not under a Git remote`);
    const head = await this.git.headCommit(target.remote, this.branch);
    if (etag === head.commit) {
      throw new NotModifiedError(`${url} is unchanged at ${etag}`);
    }
    const { mirror, commit } = await this.git.fetchHead(
      target.remote,
      this.branch,
    );
    return { mirror, commit, path: target.path };
  }
}

function trimSlashes(path = '') {
  return path.replace(/^\/+|\/+$/g, '');
}

/** Lets every backend plugin (TechDocs among them) read the Git provider's locations. */
export const gitUrlReaderFactory = createServiceFactory({
  service: urlReaderFactoriesServiceRef,
  deps: {},
  async factory() {
    return GitUrlReader.factory;
  },
});
