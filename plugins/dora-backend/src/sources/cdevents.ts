import { z } from 'zod';
import {
  NormalizedEvent,
  SourceSettings,
  Subject,
  isProduction,
  parseJson,
  parseOrExplain,
  timestamp,
} from './types';

const SOURCE = 'cdevents';

const SPEC_VERSION = /^0\.[345]\.\d+/;

/**
 * Spec versions 0.3 to 0.5: the context fields they share are all Portico reads. 0.5 renamed `version`
 * to `specversion`. Custom events (`dev.cdeventsx.<tool>-<subject>.<predicate>.<version>`) pass on unread.
 */
const context = z
  .object({
    version: z.string().optional(),
    specversion: z.string().optional(),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z
      .string()
      .regex(
        /^dev\.cdevents(\.[a-z]+|x\.[\w-]+)\.[a-z]\w*\.\d+\.\d+\.\d+/,
        'not a CDEvent type (dev.cdevents.<subject>.<predicate>.<version>)',
      ),
    timestamp,
  })
  .refine(c => SPEC_VERSION.test(c.specversion ?? c.version ?? ''), {
    message:
      'the spec version (0.5: specversion, before: version) must be 0.3.x to 0.5.x',
    path: ['version'],
  });

const reference = z.object({
  id: z.string().min(1),
  source: z.string().optional(),
});

const deployed = z.object({
  context,
  subject: z.object({
    id: z.string().min(1),
    source: z.string().optional(),
    content: z.object({
      environment: reference,
      artifactId: z.string().optional(),
    }),
  }),
});

const changeMerged = z.object({
  context,
  subject: z.object({
    id: z.string().min(1),
    source: z.string().optional(),
    // Not required by the spec: the subject's or the event's source names the repository without it.
    content: z.object({ repository: reference.optional() }),
  }),
});

const incident = z.object({
  context,
  subject: z.object({
    id: z.string().min(1),
    source: z.string().optional(),
    content: z.object({
      description: z.string().optional(),
      environment: reference.optional(),
      service: reference.optional(),
      artifactId: z.string().optional(),
      ticketURI: z.string().optional(),
    }),
  }),
});

/** Services and repositories are matched by the `portico.dev/dora-id` annotation. */
const subjectOf = (id: string): Subject => ({
  annotation: 'portico.dev/dora-id',
  value: id,
});

/** CDEvent subjects and predicates DORA reads: `dev.cdevents.<subject>.<predicate>.<version>`. */
export const CDEVENT_TYPES = [
  'service.deployed',
  'service.upgraded',
  'service.rolledback',
  'change.merged',
  'incident.detected',
  'incident.resolved',
] as const;

/**
 * The CDEvent inside a CloudEvent: structured mode (`data` holds it), binary mode (the body is the CDEvent,
 * the `ce-*` headers the envelope) and a bare CDEvent all carry the same `context` and `subject`.
 */
export function unwrapCloudEvent(body: unknown): unknown {
  if (
    body &&
    typeof body === 'object' &&
    'specversion' in body &&
    'data' in body
  ) {
    const data = (body as { data: unknown }).data;
    return typeof data === 'string' ? parseJson(data, 'data') : data;
  }
  return body;
}

/** A CDEvent in Portico's terms; empty for types DORA does not read. Throws a `PayloadError` naming the field. */
export function normalizeCdevent(
  body: unknown,
  settings: SourceSettings,
): NormalizedEvent[] {
  const event = unwrapCloudEvent(body);
  const { context: ctx } = parseOrExplain(
    z.object({ context }),
    event,
    'CDEvent',
  );
  const [, prefix, subjectName, predicate] = ctx.type.split('.');
  if (prefix !== 'cdevents') return [];
  switch (`${subjectName}.${predicate}`) {
    case 'service.deployed':
    case 'service.upgraded':
    case 'service.rolledback': {
      const { subject } = parseOrExplain(deployed, event, ctx.type);
      const environment = subject.content.environment.id;
      return [
        {
          kind: 'deployment',
          record: {
            source: SOURCE,
            externalId: ctx.id,
            subject: subjectOf(subject.id),
            environment,
            production: isProduction(settings, environment),
            succeeded: true,
            finishedAt: ctx.timestamp,
            rollback: predicate === 'rolledback',
            url: subject.source,
          },
        },
      ];
    }
    case 'change.merged': {
      const { subject } = parseOrExplain(changeMerged, event, ctx.type);
      // A subject's id is unique within its source, with or without the optional repository.
      const source = subject.source ?? ctx.source;
      const repository = subject.content.repository?.id ?? source;
      return [
        {
          kind: 'change',
          record: {
            source: SOURCE,
            externalId: `${source}@${subject.id}`,
            sha: /^[0-9a-f]{40}$/i.test(subject.id) ? subject.id : undefined,
            subject: subjectOf(repository),
            mergedAt: ctx.timestamp,
          },
        },
      ];
    }
    case 'incident.detected':
    case 'incident.resolved': {
      const { subject } = parseOrExplain(incident, event, ctx.type);
      // Optional in the spec: without it, the incident is kept under its source, unattributed until an
      // entity carries that as its id.
      const service =
        subject.content.service?.id ?? subject.source ?? ctx.source;
      return [
        {
          kind: 'incident',
          record: {
            source: SOURCE,
            externalId: subject.id,
            subject: subjectOf(service),
            title: subject.content.description,
            url: subject.content.ticketURI,
            detectedAt: predicate === 'detected' ? ctx.timestamp : undefined,
            resolvedAt: predicate === 'resolved' ? ctx.timestamp : undefined,
          },
        },
      ];
    }
    default:
      return [];
  }
}
