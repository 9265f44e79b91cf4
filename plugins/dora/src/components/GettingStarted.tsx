import { CodeSnippet } from '@backstage/core-components';
import { Card, CardBody, CardHeader, Flex, Text } from '@backstage/ui';

/** What to send, shown where there are no figures yet. */
export function GettingStarted({ baseUrl }: { baseUrl: string }) {
  const deployment = `curl -X POST ${baseUrl}/api/dora/deployments \\
  -H "Authorization: Bearer $PORTICO_CI_TOKEN" -H "Content-Type: application/json" \\
  -d '{"id": "build-1042", "entityRef": "component:default/checkout-service",
       "environment": "production", "status": "success",
       "finishedAt": "'$(date -u +%Y-%m-%dT%H:%M:%SZ)'",
       "commits": [{"sha": "'$(git rev-parse HEAD)'", "committedAt": "'$(git log -1 --format=%cI)'"}]}'`;
  const incident = `curl -X POST ${baseUrl}/api/dora/incidents \\
  -H "Authorization: Bearer $PORTICO_CI_TOKEN" -H "Content-Type: application/json" \\
  -d '{"id": "INC-77", "entityRef": "component:default/checkout-service",
       "detectedAt": "2026-11-20T11:02:00Z", "resolvedAt": "2026-11-20T11:49:00Z",
       "deploymentId": "build-1042"}'`;
  return (
    <Card data-testid="dora-getting-started">
      <CardHeader>
        <Text variant="title-small">No deployments yet: send some</Text>
      </CardHeader>
      <CardBody>
        <Flex direction="column" gap="3">
          <Text>
            Point webhooks at {baseUrl}/api/events/http/github
            (deployment_status, push, pull_request, workflow_run), /gitlab
            (deployment and merge request hooks), /pagerduty (V3
            incident.triggered and incident.resolved) or /cdevents
            (service.deployed, service.rolledback, change.merged,
            incident.detected, incident.resolved). Events map to entities by
            their github.com/project-slug, gitlab.com/project-slug,
            pagerduty.com/service-id or portico.dev/dora-id annotation.
          </Text>
          <Text>
            From any CI, with the static token of backend.auth.externalAccess
            (one item, an array, or up to 1,000 under "items"):
          </Text>
          <CodeSnippet language="bash" text={deployment} showCopyCodeButton />
          <CodeSnippet language="bash" text={incident} showCopyCodeButton />
        </Flex>
      </CardBody>
    </Card>
  );
}
