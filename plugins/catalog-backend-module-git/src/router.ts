import express from 'express';
import Router from 'express-promise-router';
import { GitIngestionStore } from './DatabaseGitIngestionStore';

/**
 * `GET /portico-git/status` under the catalog: every repository of every Git provider with its last
 * commit ingested, last attempt and success, entity count, and the errors of its last attempt and files.
 */
export function createStatusRouter(options: {
  store: GitIngestionStore;
  providerIds: string[];
}): express.Router {
  const { store, providerIds } = options;
  const router = Router();
  router.get('/portico-git/status', async (_req, res) => {
    const providers = await Promise.all(
      providerIds.map(async id => {
        const files = groupByUrl(await store.listFiles(id));
        // Each ref defined by more than one repository: the first keeps it, the others are ignored.
        const conflicts = groupByUrl(
          (await store.listConflicts(id)).flatMap(([owner, ...others]) =>
            others.map(other => ({
              url: other.url,
              file: other.path,
              message: `${other.entityRef} is already defined by ${owner.url} (${owner.path}), which keeps it; this definition is ignored`,
            })),
          ),
        );
        const processingErrors = groupByUrl(
          await store.listProcessingErrors(id),
        );
        const repositories = (await store.listRepositories(id)).map(
          repository => {
            const own = files.get(repository.url) ?? [];
            return {
              ...repository,
              entityCount: own.reduce(
                (sum, file) => sum + file.entities.length,
                0,
              ),
              fileErrors: [
                ...own.flatMap(file => file.errors),
                ...(conflicts.get(repository.url) ?? []).map(
                  ({ file, message }) => ({ file, message }),
                ),
              ],
              processingErrors: (
                processingErrors.get(repository.url) ?? []
              ).map(({ entityRef, message }) => ({ entityRef, message })),
            };
          },
        );
        return { id, repositories };
      }),
    );
    res.json({ providers });
  });
  return router;
}

/** Items by their repository, so that each repository's share is found without a scan. */
function groupByUrl<T extends { url: string }>(items: T[]): Map<string, T[]> {
  const byUrl = new Map<string, T[]>();
  for (const item of items) {
    const group = byUrl.get(item.url);
    if (group) group.push(item);
    else byUrl.set(item.url, [item]);
  }
  return byUrl;
}
