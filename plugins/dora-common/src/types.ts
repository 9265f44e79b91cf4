/** The five DORA metrics, in the order the page shows them. */
export type DoraMetricId =
  | 'deploymentFrequency'
  | 'leadTime'
  | 'changeFailureRate'
  | 'recoveryTime'
  | 'reworkRate';

export type PerformanceLevel = 'elite' | 'high' | 'medium' | 'low';

/** How often a scope deploys, from the median number of days with a deployment per week. */
export type FrequencyBucket = 'daily' | 'weekly' | 'monthly' | 'lower';

/** A performance level and the benchmark set that gave it. */
export interface Classification {
  level: PerformanceLevel;
  benchmark: string;
}

/** What a figure covers: one entity, a system, a group with its child groups, or (none set) the organisation. */
export interface DoraScope {
  entityRef?: string;
  systemRef?: string;
  groupRef?: string;
}

export interface DoraWindow {
  /** ISO 8601, inclusive. */
  from: string;
  /** ISO 8601, exclusive. */
  to: string;
  days: number;
}

export interface DeploymentFrequencyFigure {
  deployments: number;
  perDay: number;
  perWeek: number;
  /** Median over the window's weeks (weeks without a deployment count as 0) of the days with one. */
  medianDeployDaysPerWeek: number;
  bucket: FrequencyBucket;
  classification?: Classification;
}

export interface LeadTimeFigure {
  /** Changes shipped in the window with a usable (positive) lead time. */
  changes: number;
  medianSeconds?: number;
  p90Seconds?: number;
  /** Merge to deployment, for the changes with a merge time. */
  mergeToDeploy: {
    changes: number;
    medianSeconds?: number;
    p90Seconds?: number;
  };
  /** Changes whose deployment finished before their first commit or merge: bad clocks or data, left out. */
  droppedNonPositive: number;
  classification?: Classification;
}

export interface ChangeFailureRateFigure {
  deployments: number;
  failed: number;
  rate?: number;
  classification?: Classification;
}

export interface RecoveryTimeFigure {
  failed: number;
  recovered: number;
  medianSeconds?: number;
  classification?: Classification;
}

export interface ReworkRateFigure {
  deployments: number;
  unplannedFixes: number;
  rate?: number;
  /** DORA publishes no performance levels for rework rate; set only by a custom benchmark that has them. */
  classification?: Classification;
}

/** How far the figures can be trusted: printed under every figure. */
export interface DataQuality {
  deployments: number;
  deploymentsWithChanges: number;
  incidents: number;
  incidentsLinkedToDeployment: number;
  /** Events kept without an entity, in the window, for the whole organisation. */
  unattributedEvents: number;
}

export interface TrendPoint {
  /** Monday of the week, YYYY-MM-DD in the configured time zone. */
  weekStart: string;
  deployments: number;
  leadTimeMedianSeconds?: number;
  changeFailureRate?: number;
  recoveryMedianSeconds?: number;
  reworkRate?: number;
}

export interface DoraSummary {
  scope: DoraScope;
  window: DoraWindow;
  timeZone: string;
  benchmark: { id: string; name: string };
  deploymentFrequency: DeploymentFrequencyFigure;
  leadTime: LeadTimeFigure;
  changeFailureRate: ChangeFailureRateFigure;
  recoveryTime: RecoveryTimeFigure;
  reworkRate: ReworkRateFigure;
  dataQuality: DataQuality;
  trend: TrendPoint[];
  /** True when any figure includes seeded demo data. */
  includesDemoData: boolean;
}

export type FailureCause = 'incident' | 'rollback' | 'fix' | 'manual';

export interface DeploymentRow {
  id: string;
  source: string;
  entityRef?: string;
  ownerRef?: string;
  environment: string;
  production: boolean;
  succeeded: boolean;
  finishedAt: string;
  commitSha?: string;
  url?: string;
  rollback: boolean;
  unplannedFix: boolean;
  fixOf?: string;
  failed: boolean;
  failureCauses: FailureCause[];
  recoveredAt?: string;
  changes: number;
  demo: boolean;
}

export interface IncidentRow {
  id: string;
  source: string;
  entityRef?: string;
  ownerRef?: string;
  title?: string;
  url?: string;
  detectedAt: string;
  resolvedAt?: string;
  deploymentId?: string;
  demo: boolean;
}

export interface UnattributedRow {
  kind: 'deployment' | 'change' | 'incident';
  source: string;
  /** The annotation and value that matched no entity, e.g. `github.com/project-slug=acme/shop`. */
  key: string;
  events: number;
  lastSeenAt: string;
}

export interface Page<T> {
  items: T[];
  totalCount: number;
}
