import { connect } from 'node:net';

/** A remote's answer about one ref: its commit, and the branch HEAD points at when HEAD was asked. */
export interface RemoteHead {
  commit: string;
  symref?: string;
}

/**
 * The ref query failed. `answer` says what the server made clear: that it has no such repository, or
 * that it does not speak Git's smart HTTP protocol.
 */
export class RefQueryError extends Error {
  constructor(
    message: string,
    readonly answer?: 'not-found' | 'not-smart-http',
  ) {
    super(message);
  }
}

const FLUSH = '0000';
const DELIMITER = '0001';

function pktLine(line: string) {
  const length = Buffer.byteLength(line) + 4;
  return length.toString(16).padStart(4, '0') + line;
}

/** Splits pkt-line data into lines; `null` marks a flush or delimiter packet. */
function readPktLines(data: Buffer): (string | null)[] {
  const lines: (string | null)[] = [];
  for (let i = 0; i + 4 <= data.length; ) {
    const length = parseInt(data.toString('latin1', i, i + 4), 16);
    if (Number.isNaN(length)) throw new RefQueryError('malformed pkt-line');
    if (length < 4) {
      lines.push(null);
      i += 4;
      continue;
    }
    lines.push(data.toString('utf8', i + 4, i + length).replace(/\n$/, ''));
    i += length;
  }
  return lines;
}

/** The `ls-refs` request of protocol v2 for one ref, with the symref of HEAD. */
function lsRefsRequest(ref: string) {
  return [
    pktLine('command=ls-refs\n'),
    DELIMITER,
    pktLine('symrefs\n'),
    pktLine(`ref-prefix ${ref}\n`),
    FLUSH,
  ].join('');
}

/** Finds `ref` in an ls-refs answer (v2) or a ref advertisement (v0). */
function findRef(
  lines: (string | null)[],
  ref: string,
): RemoteHead | undefined {
  let symref: string | undefined;
  let found: RemoteHead | undefined;
  for (const line of lines) {
    if (!line) continue;
    const [refPart, capabilities = ''] = line.split('\0');
    const [commit, name, ...attributes] = refPart.split(' ');
    // v0 names HEAD's target among the first line's capabilities.
    symref ??= /(?:^| )symref=HEAD:(\S+)/.exec(capabilities)?.[1];
    if (name === ref && /^[0-9a-f]{40,64}$/.test(commit)) {
      found = {
        commit,
        symref: attributes
          .find(a => a.startsWith('symref-target:'))
          ?.slice('symref-target:'.length),
      };
    }
  }
  return found && { ...found, symref: found.symref ?? symref };
}

function errorLine(lines: (string | null)[]): string | undefined {
  return lines.find(l => l?.startsWith('ERR '))?.slice(4);
}

const NOT_FOUND = /not found|not exported|does not exist|no such/i;

/**
 * Asks a git:// server for one ref with Git's protocol v2 (or reads its v0 advertisement), over one TCP
 * connection without spawning git: the check every sync makes for every repository.
 */
export function queryGitDaemon(
  url: string,
  ref: string,
  timeoutMs: number,
): Promise<RemoteHead | undefined> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port || 9418) });
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`timed out after ${timeoutMs / 1000}s`)),
    );
    let received = Buffer.alloc(0);
    let requested = false;
    socket.on('connect', () =>
      socket.write(
        pktLine(
          `git-upload-pack ${decodeURIComponent(
            pathname,
          )}\0host=${hostname}\0\0version=2\0`,
        ),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let lines;
      try {
        lines = readPktLines(received);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      const problem = errorLine(lines);
      if (problem) {
        socket.destroy();
        reject(
          new RefQueryError(
            problem,
            NOT_FOUND.test(problem) ? 'not-found' : undefined,
          ),
        );
        return;
      }
      const flushes = lines.filter(l => l === null).length;
      if (lines[0] === 'version 2') {
        // The capabilities end with a flush; then the answer to ls-refs ends with another.
        if (flushes >= 1 && !requested) {
          requested = true;
          socket.write(lsRefsRequest(ref));
        }
        if (flushes >= 2) {
          socket.end(FLUSH);
          resolve(findRef(lines.slice(lines.indexOf(null) + 1), ref));
        }
      } else if (flushes >= 1) {
        socket.end(FLUSH);
        resolve(findRef(lines, ref));
      }
    });
    socket.on('error', error => reject(error));
    socket.on('close', () =>
      reject(new RefQueryError('the server closed the connection')),
    );
  });
}

/**
 * Asks a smart HTTP server for one ref: protocol v2's ls-refs (GET the capabilities, POST the request),
 * or its v0 advertisement. Connections are kept alive between repositories of the same host.
 */
export async function queryHttp(
  url: string,
  ref: string,
  options: { timeoutMs: number; authorization?: string },
): Promise<RemoteHead | undefined> {
  const base = url.replace(/\/+$/, '');
  const headers: Record<string, string> = {
    'Git-Protocol': 'version=2',
    'User-Agent': 'git/portico',
    ...(options.authorization && { Authorization: options.authorization }),
  };
  const signal = AbortSignal.timeout(options.timeoutMs);
  const advertised = await fetch(`${base}/info/refs?service=git-upload-pack`, {
    headers,
    signal,
  });
  const failure = (response: Response) =>
    new RefQueryError(
      `HTTP ${response.status} ${response.statusText}`,
      response.status === 404 ? 'not-found' : undefined,
    );
  if (!advertised.ok) throw failure(advertised);
  if (
    advertised.headers.get('content-type') !==
    'application/x-git-upload-pack-advertisement'
  ) {
    throw new RefQueryError('not a smart HTTP Git server', 'not-smart-http');
  }
  const lines = readPktLines(Buffer.from(await advertised.arrayBuffer()));
  // "# service=git-upload-pack", a flush, then the capabilities (v2) or the refs (v0).
  const body = lines.slice(lines.indexOf(null) + 1);
  if (body[0] !== 'version 2') return findRef(body, ref);
  const answer = await fetch(`${base}/git-upload-pack`, {
    method: 'POST',
    headers: {
      ...headers,
      'Content-Type': 'application/x-git-upload-pack-request',
      Accept: 'application/x-git-upload-pack-result',
    },
    body: lsRefsRequest(ref),
    signal,
  });
  if (!answer.ok) throw failure(answer);
  return findRef(readPktLines(Buffer.from(await answer.arrayBuffer())), ref);
}
