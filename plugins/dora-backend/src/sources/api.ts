import { z } from 'zod';
import {
  NormalizedEvent,
  PayloadError,
  SourceSettings,
  Subject,
  isProduction,
  parseOrExplain,
  timestamp,
} from './types';

/** The most items one request to the generic API may carry. */
export const MAX_BATCH = 1000;

const SOURCE = 'api';

/** An event names its entity by ref, or by the `portico.dev/dora-id` annotation of that entity. */
const whose = {
  entityRef: z.string().min(1).optional(),
  service: z.string().min(1).optional(),
};

const needsWhose = (item: { entityRef?: string; service?: string }) =>
  item.entityRef !== undefined || item.service !== undefined;
const whoseMessage = {
  message: 'entityRef or service is required',
  path: ['entityRef'],
};

export const deploymentInput = z
  .object({
    id: z.string().min(1).max(500),
    ...whose,
    environment: z.string().min(1).default('production'),
    status: z.enum(['success', 'failure']).default('success'),
    finishedAt: timestamp,
    commitSha: z.string().min(7).optional(),
    commits: z
      .array(
        z.object({
          sha: z.string().min(7),
          committedAt: timestamp.optional(),
        }),
      )
      .max(10_000)
      .optional(),
    rollback: z.boolean().optional(),
    unplannedFix: z.boolean().optional(),
    fixes: z.string().min(1).optional(),
    url: z.string().url().optional(),
  })
  .strict()
  .refine(needsWhose, whoseMessage);

export const incidentInput = z
  .object({
    id: z.string().min(1).max(500),
    ...whose,
    title: z.string().max(1000).optional(),
    url: z.string().url().optional(),
    detectedAt: timestamp,
    resolvedAt: timestamp.optional(),
    deploymentId: z.string().min(1).optional(),
  })
  .strict()
  .refine(needsWhose, whoseMessage);

const subjectOf = (item: { entityRef?: string; service?: string }): Subject =>
  item.entityRef
    ? { entityRef: item.entityRef }
    : { annotation: 'portico.dev/dora-id', value: item.service as string };

/**
 * One item, an array of items, or `{ "items": [...] }`, of at most MAX_BATCH; an error names the item
 * and its field, e.g. `deployment [3]: finishedAt: not a time with a zone: "yesterday"`.
 */
function parseBatch<T>(item: z.ZodType<T>, body: unknown, what: string): T[] {
  const wrapped =
    body !== null && typeof body === 'object' && 'items' in body
      ? (body as { items: unknown }).items
      : undefined;
  const many = Array.isArray(body) ? body : wrapped;
  if (many === undefined) return [parseOrExplain(item, body, what)];
  if (!Array.isArray(many) || many.length === 0 || many.length > MAX_BATCH) {
    throw new PayloadError(
      `${what}s: items: send 1 to ${MAX_BATCH} items in an array`,
      'items',
    );
  }
  return many.map((one, index) =>
    parseOrExplain(item, one, `${what} [${index}]`),
  );
}

export function normalizeApiDeployments(
  body: unknown,
  settings: SourceSettings,
): NormalizedEvent[] {
  return parseBatch(deploymentInput, body, 'deployment').map(item => ({
    kind: 'deployment',
    record: {
      source: SOURCE,
      externalId: item.id,
      subject: subjectOf(item),
      environment: item.environment,
      production: isProduction(settings, item.environment),
      succeeded: item.status === 'success',
      finishedAt: item.finishedAt,
      commitSha: item.commitSha,
      commits: item.commits,
      rollback: item.rollback,
      unplannedFix: item.unplannedFix,
      fixOf: item.fixes,
      url: item.url,
    },
  }));
}

export function normalizeApiIncidents(body: unknown): NormalizedEvent[] {
  return parseBatch(incidentInput, body, 'incident').map(item => ({
    kind: 'incident',
    record: {
      source: SOURCE,
      externalId: item.id,
      subject: subjectOf(item),
      title: item.title,
      url: item.url,
      detectedAt: item.detectedAt,
      resolvedAt: item.resolvedAt,
      cause: item.deploymentId
        ? { source: SOURCE, externalId: item.deploymentId }
        : undefined,
    },
  }));
}
