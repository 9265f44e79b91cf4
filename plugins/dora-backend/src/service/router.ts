import {
  AuditorService,
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError } from '@backstage/errors';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  doraDeploymentUpdatePermission,
  DoraScope,
} from '@internal/plugin-dora-common';
import express from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { DAY_MS } from '../database/days';
import { TimeWindow } from '../database/metrics';
import { normalizeApiDeployments, normalizeApiIncidents } from '../sources/api';
import { parseOrExplain, SourceSettings } from '../sources/types';
import { DoraIngestor } from './DoraIngestor';
import { DoraService } from './DoraService';

const MINUTE_MS = 60_000;

const scopeQuery = z.object({
  entityRef: z.string().min(1).optional(),
  systemRef: z.string().min(1).optional(),
  groupRef: z.string().min(1).optional(),
  window: z.coerce.number().int().min(1).max(3660).optional(),
  from: z.string().datetime({ offset: true }).optional(),
  to: z.string().datetime({ offset: true }).optional(),
  benchmark: z.string().min(1).optional(),
});

const pageQuery = scopeQuery.extend({
  failed: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

const markBody = z
  .object({
    failed: z.boolean().optional(),
    fixOf: z.string().regex(/^\d+$/, 'a deployment id').nullable().optional(),
  })
  .strict()
  .refine(b => b.failed !== undefined || b.fixOf !== undefined, {
    message: 'send failed or fixOf',
  });

/**
 * The window a query asks for: `window` days back from `to`, or `from` to `to`. Without `to`, the window
 * ends with the current minute, so that requests within a minute share one computed summary.
 */
function windowOf(query: z.infer<typeof scopeQuery>): TimeWindow {
  const to = query.to
    ? Date.parse(query.to)
    : Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS;
  const from = query.from
    ? Date.parse(query.from)
    : to - (query.window ?? 90) * DAY_MS;
  if (from >= to) throw new InputError('from must be before to');
  return { from, to };
}

const scopeOf = (query: z.infer<typeof scopeQuery>): DoraScope => ({
  entityRef: query.entityRef,
  systemRef: query.systemRef,
  groupRef: query.groupRef,
});

export function createRouter(options: {
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  auditor: AuditorService;
  service: DoraService;
  ingestor: DoraIngestor;
  settings: SourceSettings;
}): express.Router {
  const { httpAuth, permissions, auditor, service, ingestor, settings } =
    options;
  const router = Router();
  router.use(express.json({ limit: '10mb' }));

  // Events from CI come with a static external-access token (a service principal), never from a person.
  const ingest =
    (
      normalize: (body: unknown) => ReturnType<typeof normalizeApiDeployments>,
    ) =>
    async (req: express.Request, res: express.Response) => {
      await httpAuth.credentials(req, { allow: ['service'] });
      const events = normalize(req.body);
      res.status(202).json({ accepted: await ingestor.ingest(events) });
    };
  router.post(
    '/deployments',
    ingest(body => normalizeApiDeployments(body, settings)),
  );
  router.post('/incidents', ingest(normalizeApiIncidents));

  router.get('/summary', async (req, res) => {
    const query = parseOrExplain(scopeQuery, req.query, 'query');
    res.json(
      await service.summary(scopeOf(query), windowOf(query), query.benchmark),
    );
  });

  router.get('/deployments', async (req, res) => {
    const query = parseOrExplain(pageQuery, req.query, 'query');
    res.json(
      await service.listDeployments(scopeOf(query), {
        window: windowOf(query),
        failedOnly: query.failed === 'true',
        limit: query.limit,
        offset: query.offset,
      }),
    );
  });

  router.get('/incidents', async (req, res) => {
    const query = parseOrExplain(pageQuery, req.query, 'query');
    res.json(
      await service.listIncidents(scopeOf(query), {
        window: windowOf(query),
        limit: query.limit,
        offset: query.offset,
      }),
    );
  });

  router.get('/unattributed', async (_req, res) => {
    res.json({ items: await service.listUnattributed() });
  });

  router.get('/benchmarks', async (_req, res) => {
    res.json(service.benchmarks());
  });

  router.post('/deployments/:id/mark', async (req, res) => {
    const credentials = await httpAuth.credentials(req, { allow: ['user'] });
    const id = parseOrExplain(
      z.string().regex(/^\d+$/),
      req.params.id,
      'deployment id',
    );
    const mark = parseOrExplain(markBody, req.body, 'body');
    const auditorEvent = await auditor.createEvent({
      eventId: 'deployment-mark',
      severityLevel: 'medium',
      request: req,
      meta: { deploymentId: id, ...mark },
    });
    try {
      const [decision] = await permissions.authorize(
        [{ permission: doraDeploymentUpdatePermission }],
        { credentials },
      );
      if (decision.result !== AuthorizeResult.ALLOW) {
        throw new NotAllowedError('you may not mark deployments');
      }
      await service.markDeployment(
        Number(id),
        {
          failed: mark.failed,
          fixOf:
            mark.fixOf === undefined || mark.fixOf === null
              ? mark.fixOf
              : Number(mark.fixOf),
        },
        credentials.principal.userEntityRef,
      );
      await auditorEvent.success();
      res.json(await service.getDeployment(Number(id)));
    } catch (error) {
      await auditorEvent.fail({ error: error as Error });
      throw error;
    }
  });

  return router;
}
