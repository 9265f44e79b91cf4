import { z } from 'zod';
import {
  NormalizedEvent,
  SourceSettings,
  Subject,
  isProduction,
  parseOrExplain,
  PayloadError,
  timestamp,
} from './types';

const SOURCE = 'gitlab';

const project = z.object({
  path_with_namespace: z.string().min(1),
  default_branch: z.string().nullish(),
});

const subjectOf = (p: z.infer<typeof project>): Subject => ({
  annotation: 'gitlab.com/project-slug',
  value: p.path_with_namespace,
});

/**
 * GitLab 13.5 to 14.2 sent no `deployment_id`: its job names the deployment then. Before 13.12 it sent no
 * `status_changed_at` either, and a deployment's time is not made up from its delivery's: a resent hook
 * would move it.
 */
const deploymentEvent = z.object({
  object_kind: z.literal('deployment'),
  status: z.string(),
  status_changed_at: timestamp,
  deployment_id: z.number().nullish(),
  deployable_id: z.number().nullish(),
  environment: z.string(),
  environment_tier: z.string().nullish(),
  deployable_url: z.string().nullish(),
  commit_url: z.string().nullish(),
  short_sha: z.string().nullish(),
  project,
});

const mergeRequestEvent = z.object({
  object_kind: z.literal('merge_request'),
  object_attributes: z.object({
    iid: z.number(),
    action: z.string().nullish(),
    state: z.string(),
    target_branch: z.string(),
    created_at: timestamp,
    updated_at: timestamp,
    merged_at: timestamp.nullish(),
    merge_commit_sha: z.string().nullish(),
    last_commit: z.object({ id: z.string() }).nullish(),
  }),
  project,
});

/** The full commit id, which GitLab's deployment hook gives only inside `commit_url`. */
const commitOf = (event: z.infer<typeof deploymentEvent>) =>
  event.commit_url?.match(/\/commit\/([0-9a-f]{40})\b/)?.[1] ??
  event.short_sha ??
  undefined;

/** GitLab's `object_kind`s that DORA reads. */
export const GITLAB_EVENTS = ['deployment', 'merge_request'] as const;

/**
 * One GitLab webhook delivery in Portico's terms; empty when it says nothing about delivery (a running
 * deployment, a merge request that was not merged). Throws a `PayloadError` naming the field when a
 * payload of a kind DORA reads is malformed.
 */
export function normalizeGitlab(
  payload: unknown,
  settings: SourceSettings,
): NormalizedEvent[] {
  const kind = (payload as { object_kind?: unknown } | null)?.object_kind;
  if (kind === 'deployment') {
    // Checked before the payload: a deployment under way says nothing yet, whatever GitLab sent it.
    const { status } = payload as { status?: unknown };
    if (status !== 'success' && status !== 'failed') return [];
    const event = parseOrExplain(deploymentEvent, payload, 'deployment');
    const externalId =
      event.deployment_id ??
      (event.deployable_id && `job-${event.deployable_id}`);
    if (!externalId) {
      throw new PayloadError(
        'deployment: deployment_id (or deployable_id) is missing',
        'deployment_id',
      );
    }
    return [
      {
        kind: 'deployment',
        record: {
          source: SOURCE,
          externalId: String(externalId),
          subject: subjectOf(event.project),
          environment: event.environment,
          production: event.environment_tier
            ? event.environment_tier === 'production'
            : isProduction(settings, event.environment),
          succeeded: event.status === 'success',
          finishedAt: event.status_changed_at,
          commitSha: commitOf(event),
          url: event.deployable_url ?? undefined,
        },
      },
    ];
  }
  if (kind === 'merge_request') {
    const event = parseOrExplain(mergeRequestEvent, payload, 'merge_request');
    const mr = event.object_attributes;
    const toDefault =
      !event.project.default_branch ||
      mr.target_branch === event.project.default_branch;
    if (mr.action !== 'merge' || mr.state !== 'merged' || !toDefault) {
      return [];
    }
    return [
      {
        kind: 'change',
        record: {
          source: SOURCE,
          // A fast-forward merge has no merge commit: the merged branch's last commit is the new head.
          // (A squashed one's is not, and the hook does not say which it was: that commit then matches
          // nothing on the default branch, as no commit would.)
          sha: mr.merge_commit_sha ?? mr.last_commit?.id ?? undefined,
          externalId: `${event.project.path_with_namespace}!${mr.iid}`,
          subject: subjectOf(event.project),
          // The hook carries no first-commit time: the merge request's opening stands in for it.
          firstCommitAt: mr.created_at,
          mergedAt: mr.merged_at ?? mr.updated_at,
        },
      },
    ];
  }
  return [];
}
