import { posix } from 'path';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  Composer,
  CST,
  Document,
  isMap,
  isScalar,
  LineCounter,
  parseAllDocuments,
  Parser,
  visit,
  YAMLError,
  YAMLMap,
} from 'yaml';

/**
 * Reads a file of the repository, by its normalised path from the root: its content, only its size
 * when it is over `maxBytes` (so that it is never loaded), or undefined when there is no such file.
 */
export type ReadRepositoryFile = (
  path: string,
  maxBytes: number,
) => Promise<Buffer | FileSize | undefined>;

/** A file's size; `atLeast` when only a lower bound is known. */
export type FileSize = { size: number; atLeast?: boolean };

export interface DescriptorError {
  /** Repository-relative path of the file the problem is in (the descriptor, or the placeholder's target). */
  file: string;
  /** 1-based line in the descriptor, when known. */
  line?: number;
  message: string;
}

export interface ParsedDescriptor {
  entities: Entity[];
  errors: DescriptorError[];
}

export const DEFAULT_MAX_DESCRIPTOR_BYTES = 1024 * 1024; // 1 MiB
/** The API definition of a large service, which `$text` brings in, runs to several megabytes. */
export const DEFAULT_MAX_TARGET_BYTES = 10 * 1024 * 1024; // 10 MiB

// Enough for ordinary anchor reuse, far too few for a "billion laughs" expansion.
const MAX_ALIAS_COUNT = 100;
/** The length of the catalog's entity ref columns (`refresh_state.entity_ref` and others). */
const MAX_ENTITY_REF_LENGTH = 255;

// Far deeper than any real entity, far shallower than what exhausts the stack.
const MAX_NESTING_DEPTH = 100;
const TOO_DEEP = `nests collections more than ${MAX_NESTING_DEPTH} levels deep`;

const PLACEHOLDER_KINDS = ['$text', '$json', '$yaml'] as const;
type PlaceholderKind = (typeof PLACEHOLDER_KINDS)[number];

interface Placeholder {
  node: YAMLMap;
  kind: PlaceholderKind;
  /** Repository-relative path of the referenced file. */
  target: string;
  line?: number;
}

type TargetContent =
  | { ok: true; value: unknown }
  | { ok: false; problem: string; inTarget: boolean };

type TargetLoader = (
  kind: PlaceholderKind,
  target: string,
) => Promise<TargetContent>;

interface DescriptorContext {
  path: string;
  pathOfUrl: (url: string) => string | undefined;
  lineAt: (offset: number | undefined) => number | undefined;
  loadTarget: TargetLoader;
  errors: DescriptorError[];
}

/** The problem of a descriptor of `size` bytes, when it is over the limit; callers check it before reading. */
export function oversizeProblem(
  path: string,
  size: FileSize,
  maxBytes = DEFAULT_MAX_DESCRIPTOR_BYTES,
): DescriptorError | undefined {
  if (size.size <= maxBytes) return undefined;
  return { file: path, message: `descriptor ${overLimit(size, maxBytes)}` };
}

function overLimit({ size, atLeast }: FileSize, maxBytes: number) {
  return `is ${atLeast ? 'at least ' : ''}${formatSize(
    size,
  )}, over the ${formatSize(maxBytes)} limit`;
}

/**
 * Turns one descriptor file into the entities of its documents that read well and the errors of the
 * others; a file over the size limit or nested too deeply gives errors only. Rejects only when
 * `readFile` does, as that is not a problem of the file.
 */
export async function parseDescriptor(options: {
  /** Repository-relative path of the descriptor, e.g. 'catalog-info.yaml' or 'services/a/.backstage/b.yaml'. */
  path: string;
  content: Buffer;
  readFile: ReadRepositoryFile;
  /** The path in this repository that a placeholder URL names, when it names one of its files. */
  pathOfUrl?: (url: string) => string | undefined;
  maxBytes?: number; // default DEFAULT_MAX_DESCRIPTOR_BYTES
  maxTargetBytes?: number; // each placeholder target's; default DEFAULT_MAX_TARGET_BYTES
}): Promise<ParsedDescriptor> {
  const {
    path,
    content,
    readFile,
    pathOfUrl = () => undefined,
    maxBytes = DEFAULT_MAX_DESCRIPTOR_BYTES,
    maxTargetBytes = DEFAULT_MAX_TARGET_BYTES,
  } = options;

  // Checked before decoding so an oversized file costs nothing to reject.
  const tooLarge = oversizeProblem(path, { size: content.length }, maxBytes);
  if (tooLarge) {
    return { entities: [], errors: [tooLarge] };
  }

  const text = decodeText(content);
  let lineCounter = new LineCounter();
  // One CST for the depth check and for the documents: parsing is most of what a file costs.
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text));
  if (nestsTooDeeply(tokens)) {
    return {
      entities: [],
      errors: [{ file: path, message: `descriptor ${TOO_DEEP}` }],
    };
  }
  let documents = Array.from(new Composer().compose(tokens));
  let streamErrors: YAMLError[] = [];
  // Only parseAllDocuments words errors with their line and column: a file with errors (or without
  // documents) is parsed again by it.
  if (!documents.length || documents.some(d => d.errors.length)) {
    lineCounter = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter });
    // A stream without documents can still carry directive errors.
    if ('empty' in parsed) streamErrors = parsed.errors;
    else documents = parsed;
  }

  const context: DescriptorContext = {
    path,
    lineAt: offset =>
      offset === undefined ? undefined : lineCounter.linePos(offset).line,
    loadTarget: createTargetLoader(readFile, maxTargetBytes),
    pathOfUrl,
    errors: [],
  };

  context.errors.push(...streamErrors.map(e => syntaxError(path, e)));

  const entities: Entity[] = [];
  for (const document of documents) {
    const entity = await readDocument(document, context);
    if (entity) {
      entities.push(entity);
    }
  }

  // As the catalog's own reading does: a broken document does not keep the others out.
  return { entities, errors: context.errors };
}

/** Returns the document's entity, or undefined when it is empty or has errors (recorded in the context). */
async function readDocument(
  document: Document.Parsed,
  context: DescriptorContext,
): Promise<Entity | undefined> {
  const { path, errors } = context;
  if (document.errors.length) {
    // The first error is the one to fix; those after it mostly follow from it (a template's `{%` lines
    // give dozens).
    const [first, ...rest] = document.errors;
    const error = syntaxError(path, first);
    if (rest.length) {
      error.message += ` (and ${rest.length} more error${
        rest.length > 1 ? 's' : ''
      } in this document)`;
    }
    errors.push(error);
    return undefined;
  }

  const line = context.lineAt(document.range[0]);
  const where = `document starting at line ${line}`;
  const errorCountBefore = errors.length;
  const placeholders = findPlaceholders(document, context);
  const replacements = await resolvePlaceholders(placeholders, context);
  let value: unknown;
  try {
    substitutePlaceholders(document, replacements);
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // Alias bombs and unresolvable aliases end up here.
    errors.push({
      file: path,
      line,
      message: `${where}: ${describeError(error)}`,
    });
    return undefined;
  }

  if (
    errors.length > errorCountBefore ||
    value === null ||
    value === undefined
  ) {
    return undefined;
  }
  const problem = describeShapeProblem(value);
  if (problem) {
    errors.push({
      file: path,
      line: context.lineAt(keyOffset(document, problem.field)) ?? line,
      message: `${where} ${problem.message}`,
    });
    return undefined;
  }
  // Only the fields above are checked; the catalog validates the rest.
  return value as Entity;
}

/** Where the key at `field` (a path of keys from the document's root) is written. */
function keyOffset(
  document: Document.Parsed,
  field: string[] = [],
): number | undefined {
  let node: unknown = document.contents;
  let offset: number | undefined;
  for (const key of field) {
    // Past an alias or a placeholder's substitute, the deepest key written in the document is the place.
    if (!isMap(node)) return offset;
    const pair = node.items.find(
      item => isScalar(item.key) && item.key.value === key,
    );
    if (!pair || !isScalar(pair.key)) return offset;
    offset = pair.key.range?.[0];
    node = pair.value;
  }
  return offset;
}

/** Collects well-formed placeholders, recording malformed ones as errors. Never looks inside a placeholder. */
function findPlaceholders(
  document: Document.Parsed,
  context: DescriptorContext,
): Placeholder[] {
  const { path, errors } = context;
  const placeholders: Placeholder[] = [];
  visit(document, {
    Map(_key, node) {
      const keys = node.items.map(pair =>
        isScalar(pair.key) ? pair.key.value : undefined,
      );
      if (!keys.some(key => typeof key === 'string' && key.startsWith('$'))) {
        return undefined;
      }
      // As the catalog reads it: a mapping with a `$`-key beside other keys (JSON Schema's `$ref` beside
      // `description`, a template step's `$yaml` beside its `id`), or with one of another kind
      // (`$openapi`), is data, and nothing inside it is read either.
      const kind = keys.find(isPlaceholderKind);
      if (!kind || node.items.length > 1) {
        return visit.SKIP;
      }
      const line = context.lineAt(node.range?.[0]);
      const reference = node.items[0].value;
      if (
        !isScalar(reference) ||
        typeof reference.value !== 'string' ||
        !reference.value
      ) {
        errors.push({
          file: path,
          line,
          message: `${kind} placeholder must have a file path as its value`,
        });
        return visit.SKIP;
      }
      const target = resolveTarget(path, reference.value, context.pathOfUrl);
      if (target.ok) {
        placeholders.push({ node, kind, target: target.path, line });
      } else {
        errors.push({
          file: path,
          line,
          message: `${kind} placeholder path ${reference.value} ${target.problem}`,
        });
      }
      return visit.SKIP;
    },
  });
  return placeholders;
}

/** Maps each placeholder node to its substitute value; failures are recorded in the context instead. */
async function resolvePlaceholders(
  placeholders: Placeholder[],
  context: DescriptorContext,
): Promise<Map<YAMLMap, unknown>> {
  const replacements = new Map<YAMLMap, unknown>();
  for (const { node, kind, target, line } of placeholders) {
    const content = await context.loadTarget(kind, target);
    if (content.ok) {
      replacements.set(node, content.value);
      continue;
    }
    const message = `${kind} placeholder target ${target} ${content.problem}`;
    context.errors.push(
      content.inTarget
        ? {
            file: target,
            // `line` belongs to the descriptor, so the reference goes in the message.
            message: `${message} (referenced from ${context.path} line ${line})`,
          }
        : { file: context.path, line, message },
    );
  }
  return replacements;
}

function substitutePlaceholders(
  document: Document.Parsed,
  replacements: Map<YAMLMap, unknown>,
) {
  visit(document, {
    Map(_key, node) {
      if (!replacements.has(node)) {
        return undefined;
      }
      const replacement = document.createNode(replacements.get(node), {
        aliasDuplicateObjects: false,
      });
      // Aliases find their target by anchor name, so the substitute keeps it.
      replacement.anchor = node.anchor;
      return replacement;
    },
  });
}

/**
 * Resolves a placeholder path against the descriptor's directory, or against the repository's root when it
 * starts with a slash (as the catalog resolves it against a repository URL); refuses anything outside.
 */
function resolveTarget(
  descriptorPath: string,
  reference: string,
  pathOfUrl: (url: string) => string | undefined,
): { ok: true; path: string } | { ok: false; problem: string } {
  if (reference.includes('://')) {
    // Read here, at the commit being ingested: the catalog would read any repository its readers reach.
    const inRepository = pathOfUrl(reference);
    return inRepository === undefined
      ? {
          ok: false,
          problem:
            'is a URL outside this repository; only its own files are read (write a path relative to the descriptor)',
        }
      : resolveTarget(descriptorPath, `/${inRepository}`, pathOfUrl);
  }
  const path = posix.isAbsolute(reference)
    ? posix.normalize(reference).replace(/^\/+/, '')
    : posix.join(posix.dirname(descriptorPath), reference);
  if (path === '..' || path.startsWith('../')) {
    return { ok: false, problem: 'climbs out of the repository' };
  }
  if (path === '' || path === '.') {
    return { ok: false, problem: 'names the repository itself, not a file' };
  }
  return { ok: true, path };
}

/** A `$yaml` target that is valid YAML, but not one document. */
class DocumentCountError extends Error {
  constructor(count: number) {
    super(
      `holds ${count || 'no'} YAML document${
        count === 1 ? '' : 's'
      }; a $yaml target must hold one`,
    );
  }
}

/** Reads and parses placeholder targets, once per kind and path however often a file references them. */
function createTargetLoader(
  readFile: ReadRepositoryFile,
  maxBytes: number,
): TargetLoader {
  const loaded = new Map<string, Promise<TargetContent>>();
  const load = async (
    kind: PlaceholderKind,
    target: string,
  ): Promise<TargetContent> => {
    const content = await readFile(target, maxBytes);
    if (!content) {
      return {
        ok: false,
        problem: 'does not exist in the repository',
        inTarget: false,
      };
    }
    if (!Buffer.isBuffer(content) || content.length > maxBytes) {
      return {
        ok: false,
        problem: overLimit(
          Buffer.isBuffer(content) ? { size: content.length } : content,
          maxBytes,
        ),
        inTarget: true,
      };
    }
    const text = decodeText(content);
    if (kind !== '$text' && nestsTooDeeply(new Parser().parse(text))) {
      return { ok: false, problem: TOO_DEEP, inTarget: true };
    }
    try {
      return { ok: true, value: parseTarget(kind, text) };
    } catch (error) {
      const format = kind === '$json' ? 'JSON' : 'YAML';
      return {
        ok: false,
        problem:
          error instanceof DocumentCountError
            ? error.message
            : `is not valid ${format}: ${describeError(error)}`,
        inTarget: true,
      };
    }
  };
  return (kind, target) => {
    const key = `${kind}:${target}`;
    let content = loaded.get(key);
    if (!content) {
      content = load(kind, target);
      loaded.set(key, content);
    }
    return content;
  };
}

function parseTarget(kind: PlaceholderKind, text: string): unknown {
  if (kind === '$text') {
    return text;
  }
  if (kind === '$json') {
    return JSON.parse(text);
  }
  const documents = parseAllDocuments(text);
  if ('empty' in documents) {
    throw documents.errors[0] ?? new DocumentCountError(0);
  }
  const errors = documents.flatMap(document => document.errors);
  if (errors.length) {
    throw errors[0];
  }
  if (documents.length > 1) {
    throw new DocumentCountError(documents.length);
  }
  return documents[0].toJS({ maxAliasCount: MAX_ALIAS_COUNT });
}

/**
 * Measured on yaml's CST, whose parser is iterative, without recursing: yaml
 * composes documents recursively, and a stack overflow there can abort the whole
 * process in V8 (not just throw). JSON is YAML, so this also works for JSON text.
 */
function nestsTooDeeply(tokens: Iterable<CST.Token>): boolean {
  const pending: Array<{ token?: CST.Token | null; depth: number }> = [];
  for (const token of tokens) {
    pending.push({ token, depth: 0 });
  }
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { token, depth } = next;
    if (token?.type === 'document') {
      pending.push({ token: token.value, depth });
    } else if (CST.isCollection(token)) {
      if (depth >= MAX_NESTING_DEPTH) {
        return true;
      }
      for (const item of token.items) {
        pending.push(
          { token: item.key, depth: depth + 1 },
          { token: item.value, depth: depth + 1 },
        );
      }
    }
  }
  return false;
}

/**
 * Describes what keeps a non-empty document from being an entity, if anything, and the field it is in.
 * These are the checks of the catalog's entity envelope schema, which refuses a provider's whole mutation
 * over one such entity, so none may reach it.
 */
function describeShapeProblem(
  value: unknown,
): { message: string; field?: string[] } | undefined {
  if (!isRecord(value)) {
    return { message: `is a ${typeName(value)}, not a mapping` };
  }
  if (!isBlank(value.metadata) && !isRecord(value.metadata)) {
    return {
      message: `has metadata as a ${typeName(
        value.metadata,
      )}: it must be a mapping with a name`,
      field: ['metadata'],
    };
  }
  const metadata = isRecord(value.metadata) ? value.metadata : {};
  const fields: Array<[string, unknown]> = [
    ['apiVersion', value.apiVersion],
    ['kind', value.kind],
    ['metadata.name', metadata.name],
  ];
  const missing = fields.filter(([, field]) => isBlank(field));
  if (missing.length) {
    return {
      message: `is missing ${missing.map(([name]) => name).join(', ')}`,
    };
  }
  if ('namespace' in metadata) {
    if (isBlank(metadata.namespace)) {
      return {
        message:
          'has an empty metadata.namespace: name one, or leave the key out for the default',
        field: ['metadata', 'namespace'],
      };
    }
    fields.push(['metadata.namespace', metadata.namespace]);
  }
  // YAML reads `name: 2048` or `name: true` as a number or a boolean.
  const notText = fields.find(([, field]) => typeof field !== 'string');
  if (notText) {
    const [name, field] = notText;
    return {
      message:
        typeof field === 'object'
          ? `has ${name} as a ${typeName(field)}: it must be a string`
          : `has ${name} ${JSON.stringify(field)}, a ${typeName(
              field,
            )}: quote it to make it a string`,
      field: name.split('.'),
    };
  }
  for (const name of ['annotations', 'labels']) {
    const map = metadata[name];
    if (map !== undefined && map !== null && !isRecord(map)) {
      return {
        message: `has metadata.${name} as a ${typeName(
          map,
        )}: write it as a mapping of names to strings`,
        field: ['metadata', name],
      };
    }
  }
  // The catalog's tables hold refs of at most 255 characters: PostgreSQL would refuse the row, and with it
  // every entity of the same mutation.
  const ref = stringifyEntityRef(value as unknown as Entity);
  if (ref.length > MAX_ENTITY_REF_LENGTH) {
    return {
      message: `has an entity ref of ${ref.length} characters (${ref.slice(
        0,
        60,
      )}…): the catalog stores at most ${MAX_ENTITY_REF_LENGTH}; shorten metadata.name`,
      field: ['metadata', 'name'],
    };
  }
  return undefined;
}

function isBlank(field: unknown) {
  return field === undefined || field === null || field === '';
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'sequence';
  return isRecord(value) ? 'mapping' : typeof value;
}

function syntaxError(file: string, error: YAMLError): DescriptorError {
  return {
    file,
    line: error.linePos?.[0].line,
    message: describeError(error),
  };
}

/**
 * Strips UTF-8 byte order marks, which editors add but nobody means as content, from the start of the
 * file and of every line: files joined with `cat` carry them into later documents.
 */
function decodeText(content: Buffer): string {
  return content.toString('utf8').replace(/^\uFEFF/gm, '');
}

/** First line only, without the colon that leads into the excerpt of the source yaml appends to it. */
function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].replace(/:$/, '');
}

function formatSize(bytes: number): string {
  const units = ['KB', 'MB', 'GB'];
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  let size = bytes / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(1)} ${units[unit]}`;
}

function isPlaceholderKind(key: unknown): key is PlaceholderKind {
  return PLACEHOLDER_KINDS.includes(key as PlaceholderKind);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
