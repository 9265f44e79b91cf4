import { z } from 'zod';
import {
  NormalizedEvent,
  SourceSettings,
  Subject,
  isProduction,
  parseOrExplain,
  timestamp,
} from './types';

const SOURCE = 'github';

const repository = z.object({
  full_name: z.string().min(1),
  default_branch: z.string().optional(),
  master_branch: z.string().optional(),
});

const subjectOf = (repo: z.infer<typeof repository>): Subject => ({
  annotation: 'github.com/project-slug',
  value: repo.full_name,
});

const defaultBranchOf = (repo: z.infer<typeof repository>) =>
  repo.default_branch ?? repo.master_branch ?? 'main';

/** GitHub's deployment states that end a deployment; the others (queued, in_progress, inactive) are not read. */
const FINAL_STATES = ['success', 'failure', 'error'];

/**
 * A deployment workflow's conclusions that say whether it deployed. The others say it did not run to the
 * end of its own accord: waiting for approval (`action_required`), superseded (`stale`), never started
 * (`startup_failure`), cancelled, skipped or neutral; none of them is a failed deployment.
 */
const DEPLOYING_CONCLUSIONS = new Map([
  ['success', true],
  ['failure', false],
  ['timed_out', false],
]);

/**
 * Portico reads three optional fields of the deployment's own `payload` (what the deploying tool sent to
 * GitHub's API): `rollback`, `unplannedFix`, and `fixes` (the id of the deployment it fixed). A tool that
 * sent the payload as a string of JSON gets it back as that string.
 */
const deploymentPayload = z
  .preprocess(
    value => {
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value);
      } catch {
        return {};
      }
    },
    z.object({
      rollback: z.boolean().optional(),
      unplannedFix: z.boolean().optional(),
      fixes: z.union([z.string(), z.number()]).optional(),
    }),
  )
  .catch({});

const deploymentStatusEvent = z.object({
  deployment_status: z.object({
    state: z.string(),
    environment: z.string().optional(),
    created_at: timestamp,
    updated_at: timestamp.optional(),
    target_url: z.string().nullish(),
    environment_url: z.string().nullish(),
    log_url: z.string().nullish(),
  }),
  deployment: z.object({
    id: z.number().or(z.string()),
    sha: z.string().min(7),
    environment: z.string(),
    task: z.string().nullish(),
    production_environment: z.boolean().optional(),
    payload: z.unknown().optional(),
  }),
  repository,
});

const pushEvent = z.object({
  ref: z.string(),
  after: z.string(),
  deleted: z.boolean().optional(),
  commits: z.array(z.object({ id: z.string(), timestamp })).default([]),
  head_commit: z.object({ id: z.string(), timestamp }).nullish(),
  repository,
});

const pullRequestEvent = z.object({
  action: z.string(),
  pull_request: z.object({
    number: z.number(),
    merged: z.boolean().nullish(),
    merged_at: timestamp.nullish(),
    created_at: timestamp,
    merge_commit_sha: z.string().nullish(),
    base: z.object({ ref: z.string() }),
  }),
  repository,
});

const workflowRunEvent = z.object({
  action: z.string(),
  workflow_run: z.object({
    id: z.number(),
    name: z.string().nullish(),
    path: z.string().optional(),
    head_branch: z.string().nullish(),
    head_sha: z.string(),
    status: z.string().nullish(),
    conclusion: z.string().nullish(),
    updated_at: timestamp,
    html_url: z.string().optional(),
  }),
  repository,
});

/** GitHub webhook events DORA reads, by their `X-GitHub-Event` name. */
export const GITHUB_EVENTS = [
  'deployment_status',
  'push',
  'pull_request',
  'workflow_run',
] as const;

/**
 * One GitHub webhook delivery in Portico's terms; empty when it says nothing about delivery (a pending
 * deployment, a push to another branch, an unmerged pull request). Throws a `PayloadError` naming the
 * field when a payload of a kind DORA reads is malformed.
 */
export function normalizeGithub(
  eventName: string,
  payload: unknown,
  settings: SourceSettings,
): NormalizedEvent[] {
  switch (eventName) {
    case 'deployment_status': {
      const event = parseOrExplain(
        deploymentStatusEvent,
        payload,
        'deployment_status',
      );
      const status = event.deployment_status;
      if (!FINAL_STATES.includes(status.state)) return [];
      const environment = status.environment ?? event.deployment.environment;
      const extra = deploymentPayload.parse(event.deployment.payload ?? {});
      return [
        {
          kind: 'deployment',
          record: {
            source: SOURCE,
            externalId: String(event.deployment.id),
            subject: subjectOf(event.repository),
            environment,
            // GitHub sends false for every environment but one named "production" unless told
            // otherwise: the configured names count as well.
            production:
              event.deployment.production_environment === true ||
              isProduction(settings, environment),
            succeeded: status.state === 'success',
            finishedAt: status.created_at,
            commitSha: event.deployment.sha,
            // An environment without a URL comes as "".
            url:
              status.environment_url ||
              status.target_url ||
              status.log_url ||
              undefined,
            rollback:
              extra.rollback ?? /rollback/i.test(event.deployment.task ?? ''),
            unplannedFix: extra.unplannedFix,
            fixOf: extra.fixes === undefined ? undefined : String(extra.fixes),
          },
        },
      ];
    }
    case 'push': {
      const event = parseOrExplain(pushEvent, payload, 'push');
      if (
        event.deleted ||
        event.ref !== `refs/heads/${defaultBranchOf(event.repository)}`
      ) {
        return [];
      }
      const times = event.commits.map(commit => commit.timestamp);
      const headTime = event.head_commit?.timestamp;
      if (headTime === undefined && times.length === 0) return [];
      return [
        {
          kind: 'change',
          record: {
            source: SOURCE,
            sha: event.after,
            subject: subjectOf(event.repository),
            firstCommitAt: Math.min(...times, headTime ?? Infinity),
            mergedAt: headTime ?? Math.max(...times),
          },
        },
      ];
    }
    case 'pull_request': {
      const event = parseOrExplain(pullRequestEvent, payload, 'pull_request');
      const pr = event.pull_request;
      if (
        event.action !== 'closed' ||
        !pr.merged ||
        !pr.merged_at ||
        pr.base.ref !== defaultBranchOf(event.repository)
      ) {
        return [];
      }
      return [
        {
          kind: 'change',
          record: {
            source: SOURCE,
            sha: pr.merge_commit_sha ?? undefined,
            externalId: `${event.repository.full_name}#${pr.number}`,
            subject: subjectOf(event.repository),
            // The payload has no commit times: the pull request's opening stands in for its first commit
            // until the push of the merge brings them.
            firstCommitAt: pr.created_at,
            mergedAt: pr.merged_at,
          },
        },
      ];
    }
    case 'workflow_run': {
      const event = parseOrExplain(workflowRunEvent, payload, 'workflow_run');
      const run = event.workflow_run;
      const deploys = settings.githubDeploymentWorkflows.some(
        workflow => workflow === run.path || workflow === run.name,
      );
      const succeeded = DEPLOYING_CONCLUSIONS.get(run.conclusion ?? '');
      if (
        !deploys ||
        event.action !== 'completed' ||
        run.head_branch !== defaultBranchOf(event.repository) ||
        succeeded === undefined
      ) {
        return [];
      }
      return [
        {
          kind: 'deployment',
          record: {
            source: SOURCE,
            externalId: `run-${run.id}`,
            subject: subjectOf(event.repository),
            environment: 'production',
            production: true,
            succeeded,
            finishedAt: run.updated_at,
            commitSha: run.head_sha,
            url: run.html_url,
          },
        },
      ];
    }
    default:
      return [];
  }
}
