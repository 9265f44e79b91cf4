/** Who an event belongs to, resolved against the catalog when it arrived. */
export interface Attribution {
  entityRef?: string;
  ownerRef?: string;
  systemRef?: string;
  /** What the event named, e.g. `github.com/project-slug=acme/shop`; kept to fix unattributed events. */
  key: string;
}

/** A deployment in one source, by the id that source gives it. */
export interface DeploymentKey {
  source: string;
  externalId: string;
}

/** Times are epoch milliseconds. */
export interface DeploymentRecord extends DeploymentKey {
  attribution: Attribution;
  environment: string;
  production: boolean;
  succeeded: boolean;
  finishedAt: number;
  commitSha?: string;
  url?: string;
  rollback?: boolean;
  unplannedFix?: boolean;
  /** The id, in the same source, of the deployment this one fixed. */
  fixOf?: string;
  /** Commits the deployment shipped, when the sender lists them. */
  commits?: { sha: string; committedAt?: number }[];
  demo?: boolean;
}

export interface ChangeRecord {
  source: string;
  /** The commit (merge commit, pushed head) when known: every source of one commit merges into one change. */
  sha?: string;
  /** Identifies the change when there is no commit, e.g. a pull request. */
  externalId?: string;
  attribution: Attribution;
  firstCommitAt?: number;
  mergedAt?: number;
  demo?: boolean;
}

export interface IncidentRecord {
  source: string;
  externalId: string;
  attribution: Attribution;
  title?: string;
  url?: string;
  /** Absent on a resolution that arrives before its detection; the resolution time stands in until then. */
  detectedAt?: number;
  resolvedAt?: number;
  /** When it was reopened: it is open until a resolution after this. */
  reopenedAt?: number;
  /** The deployment the sender says caused it. */
  cause?: DeploymentKey;
  demo?: boolean;
}

export interface IngestBatch {
  deployments?: DeploymentRecord[];
  changes?: ChangeRecord[];
  incidents?: IncidentRecord[];
}

export function changeKey(change: {
  source: string;
  sha?: string;
  externalId?: string;
}): string {
  if (change.sha) return `sha:${change.sha.toLowerCase()}`;
  if (change.externalId) return `${change.source}:${change.externalId}`;
  throw new Error('a change needs a commit sha or an id');
}
