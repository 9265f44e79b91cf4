import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { GithubEventRouter } from '@backstage/plugin-events-backend-module-github';
import { GitlabEventRouter } from '@backstage/plugin-events-backend-module-gitlab';
import {
  eventsServiceRef,
  RequestDetails,
  RequestValidator,
} from '@backstage/plugin-events-node';
import { eventsExtensionPoint } from '@backstage/plugin-events-node/alpha';
import { normalizeCdevent } from '../sources/cdevents';
import { normalizeGithub } from '../sources/github';
import { normalizeGitlab } from '../sources/gitlab';
import { normalizePagerDuty } from '../sources/pagerduty';
import { parseJson, PayloadError } from '../sources/types';
import { readSourceSettings } from '../service/config';
import {
  bearerToken,
  githubSignature,
  gitlabToken,
  pagerDutySignature,
  SignatureCheck,
} from './signatures';

/**
 * A validator for one topic: a delivery without a valid signature is refused with 401 and published
 * nowhere; one whose payload DORA reads but cannot parse is refused with 400 naming the field. Other
 * deliveries (events DORA does not read) pass on to the topic's other subscribers.
 */
function validator(
  check: SignatureCheck,
  readPayload: (request: RequestDetails) => void,
): RequestValidator {
  return async (request, context) => {
    const refused = await check(
      request.headers,
      request.raw.body.toString(request.raw.encoding),
    );
    if (refused) {
      context.reject({ status: 401, payload: { message: refused } });
      return;
    }
    try {
      readPayload(request);
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      context.reject({
        status: 400,
        payload: { message: error.message, field: error.field },
      });
    }
  };
}

const header = (request: RequestDetails, name: string) => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The events plugin's HTTP ingresses for the sources DORA reads: `/api/events/http/github`, `gitlab`,
 * `pagerduty` and `cdevents`. GitHub and GitLab deliveries are routed on to `github.<event>` and
 * `gitlab.<object_kind>` by Backstage's own routers, so the catalog's modules receive them as well.
 */
export const eventsModuleDoraWebhooks = createBackendModule({
  pluginId: 'events',
  moduleId: 'portico-dora-webhooks',
  register(reg) {
    reg.registerInit({
      deps: {
        config: coreServices.rootConfig,
        events: eventsExtensionPoint,
        eventsService: eventsServiceRef,
      },
      async init({ config, events, eventsService }) {
        const settings = readSourceSettings(config);
        const keys = {
          github: 'events.modules.github.webhookSecret',
          gitlab: 'events.modules.gitlab.webhookSecret',
          pagerduty: 'events.modules.pagerduty.webhookSecrets',
          cdevents: 'events.modules.cdevents.token',
        };
        events.addHttpPostIngress({
          topic: 'github',
          validator: validator(
            githubSignature(config.getOptionalString(keys.github), keys.github),
            request =>
              normalizeGithub(
                header(request, 'x-github-event') ?? '',
                request.body,
                settings,
              ),
          ),
        });
        events.addHttpPostIngress({
          topic: 'gitlab',
          validator: validator(
            gitlabToken(config.getOptionalString(keys.gitlab), keys.gitlab),
            request => normalizeGitlab(request.body, settings),
          ),
        });
        events.addHttpPostIngress({
          topic: 'pagerduty',
          validator: validator(
            pagerDutySignature(
              config.getOptionalStringArray(keys.pagerduty) ?? [],
              keys.pagerduty,
            ),
            request => normalizePagerDuty(request.body),
          ),
        });
        events.addHttpPostIngress({
          topic: 'cdevents',
          validator: validator(
            bearerToken(config.getOptionalString(keys.cdevents), keys.cdevents),
            request => normalizeCdevent(request.body, settings),
          ),
        });
        // The events plugin reads every body raw; a request without one has none.
        const raw = (body: unknown) =>
          Buffer.isBuffer(body) ? body : Buffer.alloc(0);
        // Structured-mode CloudEvents carry their own media type.
        events.addHttpPostBodyParser({
          contentType: 'application/cloudevents+json',
          parser: async request => {
            const bodyBuffer = raw(request.body);
            return {
              bodyParsed: parseJson(bodyBuffer.toString('utf-8'), 'body'),
              bodyBuffer,
              encoding: 'utf-8',
            };
          },
        });
        // A GitHub webhook made through its API without a content type sends its JSON in a form field.
        events.addHttpPostBodyParser({
          contentType: 'application/x-www-form-urlencoded',
          parser: async request => {
            const bodyBuffer = raw(request.body);
            const payload = new URLSearchParams(
              bodyBuffer.toString('utf-8'),
            ).get('payload');
            if (payload === null) {
              throw new PayloadError(
                'body: a form without a payload field',
                'payload',
              );
            }
            return {
              bodyParsed: parseJson(payload, 'payload'),
              bodyBuffer,
              encoding: 'utf-8',
            };
          },
        });
        await new GithubEventRouter({ events: eventsService }).subscribe();
        await new GitlabEventRouter({ events: eventsService }).subscribe();
      },
    });
  },
});
