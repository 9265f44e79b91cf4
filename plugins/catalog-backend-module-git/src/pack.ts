import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';

/** An object of a pack, its deltas applied. */
export interface PackedObject {
  type: 'commit' | 'tree' | 'blob' | 'tag';
  data: Buffer;
}

/** The pack is not one this reader can trust or read; the caller fetches another way. */
export class PackError extends Error {}

/** The pack's objects declare more than the caller allows to inflate: `declaredBytes` up to the one that passed it. */
export class PackLimitError extends PackError {
  constructor(maxInflatedBytes: number, readonly declaredBytes: number) {
    super(`the pack inflates past ${maxInflatedBytes} bytes`);
  }
}

const TYPES = [undefined, 'commit', 'tree', 'blob', 'tag'] as const;
const OFS_DELTA = 6;
const REF_DELTA = 7;

type Delta = {
  offset: number;
  delta: Buffer;
  base: { offset: number } | { id: string };
};

/**
 * An object's header at `position`: its type and the size of its inflated data (checked against what
 * inflates), and where the header ends.
 */
function objectHeader(pack: Buffer, position: number) {
  let end = position;
  let byte = pack[end++];
  const typeCode = (byte >> 4) & 7;
  let size = byte & 15;
  for (let shift = 4; byte & 0x80; shift += 7) {
    byte = pack[end++];
    size += (byte & 0x7f) * 2 ** shift;
  }
  return { typeCode, size, end };
}

/** The declared size of a pack's first object, from the pack's first bytes; undefined when they end before it does. */
export function firstObjectSize(packStart: Buffer): number | undefined {
  const header = objectHeader(packStart, 12);
  return header.end <= packStart.length ? header.size : undefined;
}

/**
 * Reads a whole pack as Git's pack format defines it (version 2 or 3, SHA-1): each object's header, its
 * zlib stream, and deltas against an earlier offset or an object id, resolved once their base is known.
 * Packs small enough to hold in memory only: a snapshot of a repository's head, not its history. The
 * objects may inflate to `maxInflatedBytes` in all, so that a small pack of very compressible data
 * cannot take the backend's memory.
 */
export function parsePack(
  pack: Buffer,
  maxInflatedBytes: number,
): Map<string, PackedObject> {
  if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') {
    throw new PackError('not a pack');
  }
  const version = pack.readUInt32BE(4);
  if (version !== 2 && version !== 3) {
    throw new PackError(`pack version ${version} is not supported`);
  }
  const trailer = pack.length - 20;
  const checksum = createHash('sha1').update(pack.subarray(0, trailer));
  if (!checksum.digest().equals(pack.subarray(trailer))) {
    throw new PackError('the pack checksum does not match');
  }

  let inflated = 0;
  const spend = (bytes: number) => {
    inflated += bytes;
    if (inflated > maxInflatedBytes) {
      throw new PackLimitError(maxInflatedBytes, inflated);
    }
  };
  const count = pack.readUInt32BE(8);
  const objects = new Map<string, PackedObject>();
  const byOffset = new Map<number, PackedObject>();
  const add = (offset: number, object: PackedObject) => {
    objects.set(objectId(object), object);
    byOffset.set(offset, object);
  };
  let unresolved: Delta[] = [];
  let position = 12;
  for (let i = 0; i < count; i++) {
    const offset = position;
    const header = objectHeader(pack, position);
    const { typeCode, size } = header;
    position = header.end;
    let base: { offset: number } | { id: string } | undefined;
    if (typeCode === OFS_DELTA) {
      let byte = pack[position++];
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        byte = pack[position++];
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      base = { offset: offset - distance };
    } else if (typeCode === REF_DELTA) {
      base = { id: pack.toString('hex', position, position + 20) };
      position += 20;
    } else if (!TYPES[typeCode]) {
      throw new PackError(`object at ${offset} has unknown type ${typeCode}`);
    }
    if (position >= trailer) throw new PackError('the pack is truncated');
    spend(size);
    let inflatedObject;
    try {
      // Output of the declared size at once: the default 16 KB chunks are mostly empty here, and
      // thousands of objects a sync make that memory the backend's peak.
      inflatedObject = inflateSync(pack.subarray(position, trailer), {
        info: true,
        chunkSize: Math.max(size, 64),
        maxOutputLength: Math.max(size, 1),
      }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    } catch (error) {
      throw new PackError(`object at ${offset} does not inflate: ${error}`);
    }
    const { buffer: data, engine } = inflatedObject;
    if (data.length !== size) {
      throw new PackError(`object at ${offset} inflates to the wrong size`);
    }
    position += engine.bytesWritten;
    if (base) unresolved.push({ offset, delta: data, base });
    else add(offset, { type: TYPES[typeCode]!, data });
  }
  // A delta may name a base that comes after it, or is itself a delta: resolve until nothing moves.
  while (unresolved.length) {
    const waiting: Delta[] = [];
    for (const entry of unresolved) {
      const base =
        'offset' in entry.base
          ? byOffset.get(entry.base.offset)
          : objects.get(entry.base.id);
      if (!base) waiting.push(entry);
      else {
        add(entry.offset, {
          type: base.type,
          data: applyDelta(base.data, entry.delta, spend),
        });
      }
    }
    if (waiting.length === unresolved.length) {
      throw new PackError(
        `${waiting.length} deltas have no base in the pack (a thin pack)`,
      );
    }
    unresolved = waiting;
  }
  return objects;
}

/** The object's id: the SHA-1 of its type, size and data, as Git names objects. */
function objectId({ type, data }: PackedObject): string {
  return createHash('sha1')
    .update(`${type} ${data.length}\0`)
    .update(data)
    .digest('hex');
}

/** A delta: the base's size, the result's size, then instructions to copy from the base or insert. */
function applyDelta(
  base: Buffer,
  delta: Buffer,
  spend: (bytes: number) => void,
): Buffer {
  let position = 0;
  const readSize = () => {
    let size = 0;
    let byte;
    let shift = 0;
    do {
      byte = delta[position++];
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return size;
  };
  if (readSize() !== base.length) {
    throw new PackError('a delta does not match the size of its base');
  }
  const resultSize = readSize();
  spend(resultSize);
  const result = Buffer.alloc(resultSize);
  let written = 0;
  while (position < delta.length) {
    const instruction = delta[position++];
    if (instruction & 0x80) {
      // Copy: which of four offset bytes and three size bytes follow is in the low seven bits.
      let offset = 0;
      let size = 0;
      for (let bit = 0; bit < 4; bit++) {
        if (instruction & (1 << bit))
          offset += delta[position++] * 2 ** (8 * bit);
      }
      for (let bit = 0; bit < 3; bit++) {
        if (instruction & (16 << bit)) size += delta[position++] << (8 * bit);
      }
      if (size === 0) size = 0x10000;
      if (offset + size > base.length || written + size > result.length) {
        throw new PackError('a delta copies outside its base');
      }
      base.copy(result, written, offset, offset + size);
      written += size;
    } else if (instruction) {
      if (written + instruction > result.length) {
        throw new PackError('a delta inserts past its result');
      }
      delta.copy(result, written, position, position + instruction);
      position += instruction;
      written += instruction;
    } else {
      throw new PackError('a delta has a reserved instruction');
    }
  }
  if (written !== result.length) {
    throw new PackError('a delta does not fill its result');
  }
  return result;
}
