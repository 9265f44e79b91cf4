import { InputError } from '@backstage/errors';
import { z } from 'zod';
import {
  ChangeRecord,
  DeploymentRecord,
  IncidentRecord,
} from '../database/records';

/** What an event names to find its entity: an entity ref, or an annotation's value. */
export type Subject =
  | { entityRef: string }
  | { annotation: string; value: string };

type Unattributed<T> = Omit<T, 'attribution'> & { subject: Subject };

/** A source's event in Portico's terms, before the catalog says whose it is. */
export type NormalizedEvent =
  | { kind: 'deployment'; record: Unattributed<DeploymentRecord> }
  | { kind: 'change'; record: Unattributed<ChangeRecord> }
  | { kind: 'incident'; record: Unattributed<IncidentRecord> };

/** Settings the sources read; from `dora.*` in app-config. */
export interface SourceSettings {
  /** Environment names that count as production (compared case-insensitively). */
  productionEnvironments: string[];
  /** GitHub Actions workflows (file path or name) whose successful runs are production deployments. */
  githubDeploymentWorkflows: string[];
}

export const DEFAULT_SOURCE_SETTINGS: SourceSettings = {
  productionEnvironments: ['production', 'prod'],
  githubDeploymentWorkflows: [],
};

export const isProduction = (settings: SourceSettings, environment: string) =>
  settings.productionEnvironments.some(
    name => name.toLowerCase() === environment.toLowerCase(),
  );

/** A payload that cannot be read: an InputError (400) that also names the field, for the webhook answers. */
export class PayloadError extends InputError {
  constructor(message: string, readonly field: string) {
    super(message);
  }
}

/**
 * Parses `payload` with `schema`, or throws an error naming the first field that is wrong, the way a
 * sender can fix it: `deployment.sha: Required`.
 */
export function parseOrExplain<T>(
  schema: z.ZodType<T>,
  payload: unknown,
  what: string,
): T {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : '(body)';
  throw new PayloadError(`${what}: ${field}: ${issue.message}`, field);
}

/** `text` as JSON, or a PayloadError naming `field`. */
export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PayloadError(`${field}: not valid JSON`, field);
  }
}

/** An ISO 8601 time with a zone (or GitLab's "2026-11-20 10:20:00 +0100" / "... UTC"), as epoch ms. */
export const timestamp = z.string().transform((value, ctx) => {
  const normalized = value
    .trim()
    .replace(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)\s*/, '$1T$2')
    .replace(/T(\S+?)UTC$/, 'T$1Z')
    .replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const ms = Date.parse(normalized);
  if (Number.isNaN(ms) || !/(Z|[+-]\d\d:\d\d)$/i.test(normalized)) {
    ctx.addIssue({
      code: 'custom',
      message: `not a time with a zone: "${value}"`,
    });
    return z.NEVER;
  }
  return ms;
});
