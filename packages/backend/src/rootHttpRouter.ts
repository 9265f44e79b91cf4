import { rootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';

/** How long a stopping backend lets open requests finish before it cuts them. */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * Backstage's root HTTP router, whose server cuts the connections still open a few seconds into a
 * shutdown. Outside development it waits for every open request, and the events bus's long polls to
 * this same backend stay open for up to a minute: a stop took 58 s, past Kubernetes' 30 s grace period.
 */
export const rootHttpRouter = rootHttpRouterServiceFactory({
  configure({ applyDefaults, server, lifecycle }) {
    applyDefaults();
    lifecycle.addShutdownHook(() => {
      const cut = setTimeout(
        () => server.closeAllConnections(),
        SHUTDOWN_GRACE_MS,
      );
      // The open connections keep the process alive until then; the timer itself should not.
      cut.unref();
      server.once('close', () => clearTimeout(cut));
    });
  },
});
