import { isAbsolute, posix } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The kind of web UI a Git host has, as Backstage's integrations config names it. */
export type HostType = 'github' | 'gitlab' | 'gitea';

export interface FileLocations {
  /** `backstage.io/managed-by-location` and `managed-by-origin-location`. */
  location: string;
  /** `backstage.io/source-location`: the file's directory. */
  source: string;
  /** `backstage.io/view-url` and `edit-url`, when the host has a known web UI. */
  viewUrl?: string;
  editUrl?: string;
}

/**
 * Where each host's web UI puts a file's page, its directory's, its editor and its raw content, each
 * followed by `/<ref>/<path>`.
 */
const WEB_ROUTES: Record<
  HostType,
  { blob: string; tree: string; edit: string; raw: string }
> = {
  github: { blob: 'blob', tree: 'tree', edit: 'edit', raw: 'raw' },
  gitlab: { blob: '-/blob', tree: '-/tree', edit: '-/edit', raw: '-/raw' },
  gitea: {
    blob: 'src/branch',
    tree: 'src/branch',
    edit: '_edit',
    raw: 'raw/branch',
  },
};

/**
 * Where a descriptor file lives. On a host with a known web UI (GitHub, GitLab, Gitea) the locations are
 * that host's browser URLs, which its Backstage URL reader can also read (TechDocs `dir:`, for one); on any
 * other server they are the remote URL followed by the path, which `GitUrlReader` reads.
 */
export function fileLocations(options: {
  remote: string;
  path: string;
  /** The branch the file was read from. */
  branch: string;
  hostType?: HostType;
}): FileLocations {
  const { remote, path, branch, hostType } = options;
  const directory = posix.dirname(path);
  const web = hostType && webRoot(remote);
  const dirSuffix = directory === '.' ? '' : `${encodeURI(directory)}/`;
  if (!web) {
    const base = remoteUrl(remote);
    return {
      location: `url:${base}/${path}`,
      source: `url:${base}/${dirSuffix}`,
    };
  }
  const ref = encodeURI(branch);
  const file = encodeURI(path);
  const route = WEB_ROUTES[hostType];
  const viewUrl = `${web}/${route.blob}/${ref}/${file}`;
  return {
    location: `url:${viewUrl}`,
    source: `url:${web}/${route.tree}/${ref}/${dirSuffix}`,
    viewUrl,
    editUrl: `${web}/${route.edit}/${ref}/${file}`,
  };
}

/**
 * The path of a file in a repository from a URL of it, when the URL is one of this repository's own:
 * the remote followed by a path (as `fileLocations` writes it for servers without a web UI), or, on a
 * host with one, its browser or raw URL at any branch (`raw.githubusercontent.com` for GitHub).
 * Undefined for any other URL.
 */
export function pathInRepository(
  url: string,
  options: { remote: string; hostType?: HostType },
): string | undefined {
  const { remote, hostType } = options;
  const after = (prefix: string) =>
    url.startsWith(prefix) ? url.slice(prefix.length) : undefined;
  const direct = after(`${remoteUrl(remote).replace(/\/$/, '')}/`);
  if (direct !== undefined) return decoded(direct);
  const web = hostType && webRoot(remote);
  if (!web) return undefined;
  const { blob, tree, raw } = WEB_ROUTES[hostType];
  const prefixes = [...new Set([blob, tree, raw])].map(
    route => `${web}/${route}/`,
  );
  const github = /^https:\/\/github\.com\/(.+)$/.exec(web);
  if (github) prefixes.push(`https://raw.githubusercontent.com/${github[1]}/`);
  for (const prefix of prefixes) {
    // The branch is one segment; the file is read at the commit being ingested.
    const refAndPath = after(prefix);
    const slash = refAndPath?.indexOf('/') ?? -1;
    if (slash > 0) return decoded(refAndPath!.slice(slash + 1));
  }
  return undefined;
}

/** A URL's path with its escapes undone; as written when they are malformed, so that no file has that name. */
function decoded(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

/**
 * The https address of a repository from its clone URL, for https, `ssh://` and scp-like
 * (`git@host:owner/repo.git`) remotes; undefined for others (git://, file, local paths).
 */
export function webRoot(remote: string): string | undefined {
  const scpLike = /^[\w.-]+@([\w.-]+):(?!\/)(.+)$/.exec(remote);
  let host: string;
  let repoPath: string;
  let scheme = 'https';
  if (scpLike) {
    [, host, repoPath] = scpLike;
  } else {
    let url: URL;
    try {
      url = new URL(remote);
    } catch {
      return undefined;
    }
    if (!['https:', 'http:', 'ssh:'].includes(url.protocol)) return undefined;
    host = url.host;
    if (url.protocol === 'http:') scheme = 'http';
    repoPath = url.pathname.replace(/^\//, '');
  }
  return `${scheme}://${host}/${repoPath
    .replace(/\.git$/, '')
    .replace(/\/$/, '')}`;
}

/** The host name of a remote, for looking up its integration; undefined for local and file remotes. */
export function remoteHost(remote: string): string | undefined {
  const web = webRoot(remote);
  return web ? new URL(web).hostname : undefined;
}

/** A remote as a URL: local paths become `file://` URLs. */
export function remoteUrl(remote: string): string {
  return isAbsolute(remote) ? pathToFileURL(remote).href : remote;
}

/**
 * The remote and the path in it (its escapes undone) that a URL names, for URLs as `fileLocations` writes
 * them for servers without a web UI; undefined when the URL is under none of `remotes`, which are remote
 * URLs and prefixes of discovered ones (ending in `/`).
 */
export function splitRemoteUrl(
  remotes: string[],
  url: string,
): { remote: string; path: string } | undefined {
  for (const remote of remotes) {
    if (remote.endsWith('/') && url.startsWith(remote)) {
      // A discovered repository: its name ends at the first `.git` segment.
      const match = /^(.*?\.git)(?:\/(.*))?$/.exec(url.slice(remote.length));
      if (match) {
        return { remote: remote + match[1], path: pathOf(match[2]) };
      }
    } else if (url === remote || url.startsWith(`${remote}/`)) {
      return { remote, path: pathOf(url.slice(remote.length + 1)) };
    }
  }
  return undefined;
}

function pathOf(urlPath = '') {
  return decoded(urlPath.replace(/^\/+|\/+$/g, ''));
}
