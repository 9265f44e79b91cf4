import { SchedulerServiceTaskScheduleDefinitionConfig } from '@backstage/backend-plugin-api';

export interface Config {
  catalog?: {
    providers?: {
      /** Portico's Git ingestion: descriptor files from any Git server. One entry per provider id. */
      git?: {
        [providerId: string]: {
          /**
           * Full remote URLs (https, ssh, git, file) or local paths, without credentials. Relative paths are
           * relative to the backend's working directory.
           */
          remotes?: string[];
          /** A URL prefix that `repositories` are appended to, e.g. `https://git.example.com/platform/`. */
          remotePrefix?: string;
          /**
           * Repository names under `remotePrefix`. Globs (`team-*`, `platform/**`) list the repositories
           * found in a prefix that is a directory of this machine (`file://` or a path).
           */
          repositories?: string[];
          /** Branch to read; the remote's HEAD when omitted. */
          branch?: string;
          /** Globs of descriptor files, relative to the repository root. */
          files?: string[];
          /**
           * Token for https remotes, sent as HTTP basic auth.
           * @visibility secret
           */
          token?: string;
          /** Seconds that one exchange with a server (a git command, or an in-process ls-refs or fetch) may take in all, at least 1. Default 120. */
          timeoutSeconds?: number;
          /** How many repositories are read at once. Default 16. */
          concurrency?: number;
          /** How often to sync, e.g. `{ frequency: { minutes: 2 }, timeout: { minutes: 10 } }`. */
          schedule: SchedulerServiceTaskScheduleDefinitionConfig;
        };
      };
    };
  };
}
