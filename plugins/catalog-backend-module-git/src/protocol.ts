import { connect } from 'node:net';
import { firstObjectSize } from './pack';

/** A remote's answer about one ref: its commit, and the branch HEAD points at when HEAD was asked. */
export interface RemoteHead {
  commit: string;
  symref?: string;
}

/**
 * Talking to the server failed. `answer` says what the server made clear: that it has no such
 * repository, that it does not speak Git's smart HTTP protocol, that it cannot send a shallow pack
 * over protocol v2, or that the pack is larger than the caller holds in memory.
 */
export class UploadPackError extends Error {
  constructor(
    message: string,
    readonly answer?:
      | 'not-found'
      | 'not-smart-http'
      | 'unsupported'
      | 'too-large',
    /** For `too-large`: the limit, and the declared size of the pack's first object when it arrived. */
    readonly limit?: { maxBytes: number; firstObjectBytes?: number },
  ) {
    super(message);
  }
}

const FLUSH = '0000';
const DELIMITER = '0001';
const NOT_FOUND = /not found|not exported|does not exist|no such/i;

function pktLine(line: string) {
  const length = Buffer.byteLength(line) + 4;
  return length.toString(16).padStart(4, '0') + line;
}

/** A pkt-line's payload, or the flush, delimiter and response-end packets of protocol v2. */
type Packet = Buffer | 'flush' | 'delimiter' | 'response-end';
const SPECIAL_PACKETS = ['flush', 'delimiter', 'response-end'] as const;

/** Reads pkt-lines from a stream of chunks, as they arrive. */
class PacketReader {
  private buffered = Buffer.alloc(0);

  constructor(
    private readonly chunks: AsyncIterator<Uint8Array> | Iterator<Uint8Array>,
  ) {}

  async read(): Promise<Packet> {
    for (;;) {
      if (this.buffered.length >= 4) {
        const length = parseInt(this.buffered.toString('latin1', 0, 4), 16);
        if (Number.isNaN(length) || length === 3) {
          throw new UploadPackError('malformed pkt-line');
        }
        if (length < 3) {
          this.buffered = this.buffered.subarray(4);
          return SPECIAL_PACKETS[length];
        }
        if (this.buffered.length >= length) {
          const payload = this.buffered.subarray(4, length);
          this.buffered = this.buffered.subarray(length);
          return payload;
        }
      }
      const { value, done } = await this.chunks.next();
      if (done) throw new UploadPackError('the server closed the connection');
      this.buffered = Buffer.concat([this.buffered, value]);
    }
  }

  /** Text lines up to the next flush or delimiter; an error line of the server is thrown. */
  async lines(): Promise<string[]> {
    const lines: string[] = [];
    for (let packet = await this.read(); Buffer.isBuffer(packet); ) {
      lines.push(textOf(packet));
      packet = await this.read();
    }
    return lines;
  }
}

function textOf(packet: Buffer): string {
  const line = packet.toString('utf8').replace(/\n$/, '');
  if (line.startsWith('ERR ')) {
    const message = line.slice(4);
    throw new UploadPackError(
      message,
      NOT_FOUND.test(message) ? 'not-found' : undefined,
    );
  }
  return line;
}

/** A conversation with a server's upload-pack: protocol v2 commands, or v0's ref advertisement alone. */
interface UploadPackSession {
  /** Protocol v2's capabilities (`fetch` → `shallow filter`); undefined when the server spoke v0. */
  capabilities?: Map<string, string>;
  /** Protocol v0's ref advertisement, when the server spoke v0. */
  advertisement?: string[];
  command(request: string): Promise<PacketReader>;
  close(): void;
}

/** The first lines of an upload-pack: v2's version line and capabilities, or v0's refs. */
function sessionStart(lines: string[]) {
  if (lines[0] !== 'version 2') return { advertisement: lines };
  const capabilities = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const [key, ...value] = line.split('=');
    capabilities.set(key, value.join('='));
  }
  return { capabilities };
}

/** A git:// server: one TCP connection for every command of the session. */
async function openDaemonSession(
  url: string,
  timeoutMs: number,
): Promise<UploadPackSession> {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port || 9418) });
  socket.setNoDelay(true);
  // The whole session, as for HTTP: a server that sends a byte now and then never leaves it idle.
  const deadline = setTimeout(
    () => socket.destroy(new Error(`timed out after ${timeoutMs / 1000}s`)),
    timeoutMs,
  );
  socket.once('close', () => clearTimeout(deadline));
  socket.write(
    pktLine(
      `git-upload-pack ${decodeURIComponent(
        pathname,
      )}\0host=${hostname}\0\0version=2\0`,
    ),
  );
  const reader = new PacketReader(socket[Symbol.asyncIterator]());
  // Ended and then destroyed: a pack left unread must not hold the connection until the timeout.
  const close = () => socket.end(FLUSH, () => socket.destroy());
  try {
    return {
      ...sessionStart(await reader.lines()),
      command: async request => {
        socket.write(request);
        return reader;
      },
      close,
    };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * A smart HTTP server: GET the capabilities (or v0's refs), then one POST per command. Each answer is
 * read whole, so that its connection is kept alive for the next repository of the same host.
 */
async function openHttpSession(
  url: string,
  options: RemoteOptions & { maxBytes?: number },
): Promise<UploadPackSession> {
  const base = url.replace(/\/+$/, '');
  const headers: Record<string, string> = {
    'Git-Protocol': 'version=2',
    'User-Agent': 'git/portico',
    ...(options.authorization && { Authorization: options.authorization }),
  };
  const stop = new AbortController();
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs),
    stop.signal,
  ]);
  const answer = async (response: Response) => {
    if (!response.ok) {
      throw new UploadPackError(
        `HTTP ${response.status} ${response.statusText}`,
        response.status === 404 ? 'not-found' : undefined,
      );
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body ?? []) {
      chunks.push(chunk);
      size += chunk.length;
      if (options.maxBytes !== undefined && size > options.maxBytes) {
        stop.abort();
        throw tooLarge(
          options.maxBytes,
          await firstObjectSizeIn(Buffer.concat(chunks)),
        );
      }
    }
    return new PacketReader([Buffer.concat(chunks)][Symbol.iterator]());
  };
  const advertised = await fetch(`${base}/info/refs?service=git-upload-pack`, {
    headers,
    signal,
  });
  if (
    advertised.ok &&
    advertised.headers.get('content-type') !==
      'application/x-git-upload-pack-advertisement'
  ) {
    stop.abort();
    throw new UploadPackError('not a smart HTTP Git server', 'not-smart-http');
  }
  const reader = await answer(advertised);
  let lines = await reader.lines();
  // v0 starts with "# service=git-upload-pack" and a flush; git's own http-backend leaves it out in v2.
  if (lines[0]?.startsWith('# service=')) lines = await reader.lines();
  return {
    ...sessionStart(lines),
    command: async request =>
      answer(
        await fetch(`${base}/git-upload-pack`, {
          method: 'POST',
          headers: {
            ...headers,
            'Content-Type': 'application/x-git-upload-pack-request',
            Accept: 'application/x-git-upload-pack-result',
          },
          body: request,
          signal,
        }),
      ),
    close: () => {},
  };
}

function tooLarge(maxBytes: number, firstObjectBytes?: number) {
  return new UploadPackError(
    `the pack is larger than ${maxBytes} bytes`,
    'too-large',
    { maxBytes, firstObjectBytes },
  );
}

/** The declared size of the first object of the pack in an answer cut short, when it arrived that far. */
async function firstObjectSizeIn(answer: Buffer): Promise<number | undefined> {
  const reader = new PacketReader([answer][Symbol.iterator]());
  try {
    for (;;) {
      const packet = await reader.read();
      if (
        Buffer.isBuffer(packet) &&
        packet.toString('latin1', 0, 5) === '\x01PACK'
      ) {
        return firstObjectSize(packet.subarray(1));
      }
    }
  } catch {
    return undefined;
  }
}

export interface RemoteOptions {
  timeoutMs: number;
  /** The HTTP Authorization header, for http(s) remotes. */
  authorization?: string;
}

/** Whether this module can talk to the remote itself: git:// and smart HTTP servers. */
export function speaksProtocolOf(url: string): boolean {
  return /^(git|https?):\/\//.test(url);
}

function openSession(
  url: string,
  options: RemoteOptions & { maxBytes?: number },
): Promise<UploadPackSession> {
  return url.startsWith('git://')
    ? openDaemonSession(url, options.timeoutMs)
    : openHttpSession(url, options);
}

/** Finds `ref` in an ls-refs answer (v2) or a ref advertisement (v0). */
function findRef(lines: string[], ref: string): RemoteHead | undefined {
  let symref: string | undefined;
  let found: RemoteHead | undefined;
  for (const line of lines) {
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

async function listRef(
  session: UploadPackSession,
  ref: string,
): Promise<RemoteHead | undefined> {
  if (session.advertisement) return findRef(session.advertisement, ref);
  const reader = await session.command(
    commandRequest(session, 'ls-refs', ['symrefs', `ref-prefix ${ref}`]),
  );
  return findRef(await reader.lines(), ref);
}

/**
 * Asks a git:// or smart HTTP server for one ref, without spawning git: the check every sync makes for
 * every repository.
 */
export async function queryRef(
  url: string,
  ref: string,
  options: RemoteOptions,
): Promise<RemoteHead | undefined> {
  const session = await openSession(url, options);
  try {
    return await listRef(session, ref);
  } finally {
    session.close();
  }
}

/**
 * Fetches the commit `ref` points at, depth 1, as one pack held in memory, over one session: protocol
 * v2's ls-refs, then its fetch. Where the server offers it, the pack leaves out blobs (`filter
 * blob:none`): `filtered` says so, and `fetchObjects` brings those needed. Resolves to undefined when
 * the server has no such ref. Throws an `UploadPackError` answering `unsupported` when the server
 * cannot send a shallow pack over v2 with SHA-1 ids, and `too-large` when the pack grows past
 * `maxBytes`.
 */
export async function fetchShallowPack(
  url: string,
  ref: string,
  options: RemoteOptions & { maxBytes: number },
): Promise<{ head: RemoteHead; pack: Buffer; filtered: boolean } | undefined> {
  const session = await openSession(url, options);
  try {
    const { capabilities } = session;
    const features = capabilities?.get('fetch')?.split(' ') ?? [];
    const objectFormat = capabilities?.get('object-format') ?? 'sha1';
    if (!capabilities?.has('fetch') || !features.includes('shallow')) {
      throw new UploadPackError(
        'the server does not offer a shallow fetch over protocol v2',
        'unsupported',
      );
    }
    if (objectFormat !== 'sha1') {
      throw new UploadPackError(
        `the repository's object format is ${objectFormat}`,
        'unsupported',
      );
    }
    const head = await listRef(session, ref);
    if (!head) return undefined;
    const filtered = features.includes('filter');
    const pack = await fetchPack(session, [head.commit], {
      maxBytes: options.maxBytes,
      extra: ['deepen 1', ...(filtered ? ['filter blob:none'] : [])],
    });
    return { head, pack, filtered };
  } finally {
    session.close();
  }
}

/** Fetches objects by id (the blobs a filtered pack left out) as one pack held in memory. */
export async function fetchObjects(
  url: string,
  ids: string[],
  options: RemoteOptions & { maxBytes: number },
): Promise<Buffer> {
  const session = await openSession(url, options);
  try {
    return await fetchPack(session, ids, { maxBytes: options.maxBytes });
  } finally {
    session.close();
  }
}

/** Protocol v2's fetch of `wants`, with no objects of our own to offer: the answer is a pack. */
async function fetchPack(
  session: UploadPackSession,
  wants: string[],
  options: { maxBytes: number; extra?: string[] },
): Promise<Buffer> {
  const reader = await session.command(
    commandRequest(session, 'fetch', [
      'no-progress',
      'ofs-delta',
      ...wants.map(id => `want ${id}`),
      ...(options.extra ?? []),
      'done',
    ]),
  );
  return readPackfileSection(reader, options.maxBytes);
}

/**
 * A protocol v2 command: its name and the object format the server named (as git sends it; a fetch is
 * only asked of SHA-1 servers), a delimiter, its arguments, and a flush.
 */
function commandRequest(
  session: UploadPackSession,
  command: string,
  args: string[],
) {
  const objectFormat = session.capabilities?.get('object-format');
  const capabilities = objectFormat ? [`object-format=${objectFormat}`] : [];
  const lines = (values: string[]) =>
    values.map(line => pktLine(`${line}\n`)).join('');
  return `${lines([`command=${command}`, ...capabilities])}${DELIMITER}${lines(
    args,
  )}${FLUSH}`;
}

/**
 * The pack of a fetch answer: sections before it (shallow-info) are passed over, then the packfile
 * section's side band carries the pack (band 1), progress (2) and a fatal error (3), up to a flush.
 */
async function readPackfileSection(
  reader: PacketReader,
  maxBytes: number,
): Promise<Buffer> {
  for (;;) {
    const packet = await reader.read();
    if (packet === 'flush') {
      throw new UploadPackError('the server answered without a pack');
    }
    if (Buffer.isBuffer(packet) && textOf(packet) === 'packfile') break;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for (let packet = await reader.read(); packet !== 'flush'; ) {
    if (!Buffer.isBuffer(packet)) {
      throw new UploadPackError(`unexpected ${packet} packet in the pack`);
    }
    const band = packet[0];
    if (band === 1) {
      chunks.push(packet.subarray(1));
      size += packet.length - 1;
      if (size > maxBytes) {
        throw tooLarge(maxBytes, firstObjectSize(Buffer.concat(chunks)));
      }
    } else if (band === 3) {
      throw new UploadPackError(packet.toString('utf8', 1).trim());
    }
    packet = await reader.read();
  }
  return Buffer.concat(chunks);
}
