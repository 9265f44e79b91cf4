import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeCdevent } from './cdevents';
import { normalizeGithub } from './github';
import { normalizeGitlab } from './gitlab';
import { DEFAULT_SOURCE_SETTINGS } from './types';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '__fixtures__', name), 'utf8'));
const settings = {
  ...DEFAULT_SOURCE_SETTINGS,
  githubDeploymentWorkflows: ['.github/workflows/deploy.yml'],
};

describe('sources', () => {
  it('reads a completed run of a deployment workflow as a production deployment, and ignores others', () => {
    const run = fixture('github-workflow_run.json');
    expect(normalizeGithub('workflow_run', run, settings)).toEqual([
      {
        kind: 'deployment',
        record: expect.objectContaining({
          externalId: 'run-11876543210',
          production: true,
          succeeded: true,
          finishedAt: Date.parse('2026-11-20T09:21:47Z'),
          subject: {
            annotation: 'github.com/project-slug',
            value: 'acme/checkout-service',
          },
        }),
      },
    ]);
    expect(
      normalizeGithub('workflow_run', run, DEFAULT_SOURCE_SETTINGS),
    ).toEqual([]);
  });

  it("reads GitLab's deployment and merge request hooks, times in GitLab's own format", () => {
    expect(
      normalizeGitlab(fixture('gitlab-deployment.json'), settings),
    ).toEqual([
      {
        kind: 'deployment',
        record: expect.objectContaining({
          externalId: '910233',
          production: true,
          succeeded: true,
          commitSha: '96df4251b002cc2ba6dfb95266e39a03d69b0ffe',
          finishedAt: Date.parse('2026-11-20T10:31:27Z'),
        }),
      },
    ]);
    expect(
      normalizeGitlab(fixture('gitlab-merge_request-merged.json'), settings),
    ).toEqual([
      {
        kind: 'change',
        record: expect.objectContaining({
          sha: '96df4251b002cc2ba6dfb95266e39a03d69b0ffe',
          firstCommitAt: Date.parse('2026-11-19T08:00:00Z'),
          mergedAt: Date.parse('2026-11-20T10:18:42Z'),
        }),
      },
    ]);
  });

  it('reads change.merged and incident.detected CDEvents by the dora-id of what they name', () => {
    expect(
      normalizeCdevent(fixture('cdevents-change.merged-0.4.json'), settings),
    ).toEqual([
      {
        kind: 'change',
        record: expect.objectContaining({
          externalId: 'acme/checkout-service@acme/checkout-service/pull/482',
          mergedAt: Date.parse('2026-11-20T09:15:02Z'),
          subject: {
            annotation: 'portico.dev/dora-id',
            value: 'acme/checkout-service',
          },
        }),
      },
    ]);
    expect(
      normalizeCdevent(
        fixture('cdevents-incident.detected-0.4.json'),
        settings,
      ),
    ).toEqual([
      {
        kind: 'incident',
        record: expect.objectContaining({
          detectedAt: Date.parse('2026-11-20T11:02:14.512Z'),
          subject: {
            annotation: 'portico.dev/dora-id',
            value: 'checkout-service',
          },
        }),
      },
    ]);
  });

  it('ignores events that say nothing about delivery', () => {
    const pending = fixture('github-deployment_status.json');
    pending.deployment_status.state = 'in_progress';
    expect(normalizeGithub('deployment_status', pending, settings)).toEqual([]);
    const push = fixture('github-push.json');
    push.ref = 'refs/heads/feature';
    expect(normalizeGithub('push', push, settings)).toEqual([]);
    expect(normalizeGithub('issues', { action: 'opened' }, settings)).toEqual(
      [],
    );
  });
});
