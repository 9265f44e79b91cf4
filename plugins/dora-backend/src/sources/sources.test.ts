import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeCdevent } from './cdevents';
import { normalizeGithub } from './github';
import { normalizeGitlab } from './gitlab';
import { normalizePagerDuty } from './pagerduty';
import { DEFAULT_SOURCE_SETTINGS, PayloadError } from './types';

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

  it.each([
    ['failure', [false]],
    ['timed_out', [false]],
    ['action_required', []],
    ['stale', []],
    ['startup_failure', []],
    ['cancelled', []],
  ])(
    'reads a deployment workflow that concluded %s as %j',
    (conclusion, succeeded) => {
      const run = fixture('github-workflow_run.json');
      run.workflow_run.conclusion = conclusion;
      expect(
        normalizeGithub('workflow_run', run, settings).map(
          event => event.kind === 'deployment' && event.record.succeeded,
        ),
      ).toEqual(succeeded);
    },
  );

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

  it('reads deployment hooks of GitLab versions without deployment_id by their job, and refuses one without a time', () => {
    const old = fixture('gitlab-deployment.json');
    delete old.deployment_id;
    expect(normalizeGitlab(old, settings)[0].record).toMatchObject({
      externalId: 'job-8123456789',
      finishedAt: Date.parse('2026-11-20T10:31:27Z'),
    });
    delete old.status_changed_at;
    expect(() => normalizeGitlab(old, settings)).toThrow(
      'deployment: status_changed_at',
    );
    // A deployment under way passes, whatever its hook lacks.
    old.status = 'running';
    expect(normalizeGitlab(old, settings)).toEqual([]);
    old.status = 'success';
    old.status_changed_at = '2026-11-20 10:31:27 +0000';
    delete old.deployable_id;
    expect(() => normalizeGitlab(old, settings)).toThrow(
      'deployment: deployment_id (or deployable_id) is missing',
    );
  });

  it("takes a fast-forward merge's last commit as its commit", () => {
    const merged = fixture('gitlab-merge_request-merged.json');
    merged.object_attributes.merge_commit_sha = null;
    expect(normalizeGitlab(merged, settings)[0].record).toMatchObject({
      sha: 'd44ef94133263ffa59e612162d5dcbbbcdb5b03f',
    });
  });

  it('reads change.merged and incident.detected CDEvents by the dora-id of what they name', () => {
    expect(
      normalizeCdevent(fixture('cdevents-change.merged-0.4.json'), settings),
    ).toEqual([
      {
        kind: 'change',
        record: expect.objectContaining({
          externalId:
            'https://github.com/acme/checkout-service@acme/checkout-service/pull/482',
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

  it('reads GitHub deployments as GitHub sends them for an environment other than "production"', () => {
    const event = fixture('github-deployment_status.json');
    // What GitHub sends for an environment named otherwise, with no URL set and a payload sent as a string.
    event.deployment_status.environment = 'prod';
    event.deployment.environment = 'prod';
    event.deployment.production_environment = false;
    event.deployment.payload = '{"rollback":true}';
    event.deployment_status.environment_url = '';
    expect(normalizeGithub('deployment_status', event, settings)).toEqual([
      {
        kind: 'deployment',
        record: expect.objectContaining({
          environment: 'prod',
          production: true,
          rollback: true,
          url: 'https://deploy.acme.example/releases/checkout-service/2026.11.20-1',
        }),
      },
    ]);
    event.deployment_status.environment = 'staging';
    event.deployment.environment = 'staging';
    expect(
      normalizeGithub('deployment_status', event, settings)[0].record,
    ).toMatchObject({ production: false });
  });

  it('reads CDEvents without the content fields that the spec leaves optional', () => {
    const merged = fixture('cdevents-change.merged-0.4.json');
    const [withRepository] = normalizeCdevent(merged, settings);
    delete merged.subject.content.repository;
    expect(normalizeCdevent(merged, settings)[0].record).toMatchObject({
      // Known by the same key, so the change is stored once whichever way it comes.
      externalId: withRepository.record.externalId,
      subject: {
        annotation: 'portico.dev/dora-id',
        value: 'https://github.com/acme/checkout-service',
      },
    });
    const detected = fixture('cdevents-incident.detected-0.4.json');
    delete detected.subject.content.service;
    delete detected.subject.source;
    expect(normalizeCdevent(detected, settings)[0].record).toMatchObject({
      detectedAt: Date.parse('2026-11-20T11:02:14.512Z'),
      subject: {
        annotation: 'portico.dev/dora-id',
        value: detected.context.source,
      },
    });
  });

  it('passes custom CDEvents on unread, and names a CloudEvent whose data is not JSON', () => {
    const custom = fixture('cdevents-service.deployed-0.4.json');
    custom.context.type = 'dev.cdeventsx.harbor-quota.exceeded.0.1.0';
    expect(normalizeCdevent(custom, settings)).toEqual([]);
    const structured = {
      specversion: '1.0',
      id: 'e-1',
      source: '/ci',
      type: 'dev.cdevents.service.deployed.0.2.0',
      data: '{"context": ',
    };
    expect(() => normalizeCdevent(structured, settings)).toThrow(
      new PayloadError('data: not valid JSON', 'data'),
    );
  });

  it('reads a reopened PagerDuty incident as reopened at the time of the event', () => {
    const event = fixture('pagerduty-incident.resolved.json');
    event.event.event_type = 'incident.reopened';
    event.event.occurred_at = '2026-11-20T12:10:00.000Z';
    expect(normalizePagerDuty(event)[0].record).toMatchObject({
      externalId: event.event.data.id,
      reopenedAt: Date.parse('2026-11-20T12:10:00Z'),
      resolvedAt: undefined,
    });
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
