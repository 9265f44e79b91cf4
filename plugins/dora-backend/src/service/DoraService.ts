import { InputError, NotFoundError } from '@backstage/errors';
import {
  BenchmarkSet,
  DeploymentRow,
  DoraScope,
  DoraSummary,
  FailureCause,
  IncidentRow,
  Page,
  UnattributedRow,
} from '@internal/plugin-dora-common';
import { DeploymentMark, DoraStore } from '../database/DatabaseDoraStore';
import { ScopeFilter, TimeWindow } from '../database/metrics';
import { summarize } from './summarize';

export interface ListOptions {
  window: TimeWindow;
  failedOnly?: boolean;
  limit: number;
  offset: number;
}

/** What the router asks for, in the common types; scopes are resolved against the catalog here. */
export class DoraService {
  constructor(
    private readonly options: {
      store: DoraStore;
      resolveScope: (scope: DoraScope) => Promise<ScopeFilter>;
      benchmarks: BenchmarkSet[];
      defaultBenchmark: string;
      timeZone: string;
    },
  ) {}

  benchmarks() {
    return {
      default: this.options.defaultBenchmark,
      sets: this.options.benchmarks,
    };
  }

  async summary(
    scope: DoraScope,
    window: TimeWindow,
    benchmarkId?: string,
  ): Promise<DoraSummary> {
    const id = benchmarkId ?? this.options.defaultBenchmark;
    const benchmark = this.options.benchmarks.find(set => set.id === id);
    if (!benchmark) {
      throw new InputError(
        `unknown benchmark "${id}"; known: ${this.options.benchmarks
          .map(s => s.id)
          .join(', ')}`,
      );
    }
    const filter = await this.options.resolveScope(scope);
    return summarize({
      raw: await this.options.store.summary(filter, window),
      scope,
      window,
      timeZone: this.options.timeZone,
      benchmark,
    });
  }

  async listDeployments(
    scope: DoraScope,
    options: ListOptions,
  ): Promise<Page<DeploymentRow>> {
    const filter = await this.options.resolveScope(scope);
    const { rows, totalCount } = await this.options.store.listDeployments({
      filter,
      ...options,
    });
    return { items: rows.map(toDeploymentRow), totalCount };
  }

  async getDeployment(id: number): Promise<DeploymentRow> {
    const row = await this.options.store.getDeployment(id);
    if (!row) throw new NotFoundError(`no deployment ${id}`);
    return toDeploymentRow(row);
  }

  async listIncidents(
    scope: DoraScope,
    options: ListOptions,
  ): Promise<Page<IncidentRow>> {
    const filter = await this.options.resolveScope(scope);
    const { rows, totalCount } = await this.options.store.listIncidents({
      filter,
      ...options,
    });
    return { items: rows.map(toIncidentRow), totalCount };
  }

  async listUnattributed(): Promise<UnattributedRow[]> {
    const rows = await this.options.store.listUnattributed();
    return rows.map(row => ({
      kind: row.kind,
      source: row.source,
      key: row.attribution_key,
      events: Number(row.events),
      lastSeenAt: iso(row.last_seen_at) as string,
    }));
  }

  markDeployment(id: number, mark: DeploymentMark, actor: string) {
    return this.options.store.markDeployment(id, mark, actor);
  }
}

function iso(ms: unknown) {
  return ms === null || ms === undefined
    ? undefined
    : new Date(Number(ms)).toISOString();
}

function optional(value: unknown) {
  return value === null || value === undefined ? undefined : String(value);
}

function toDeploymentRow(row: any): DeploymentRow {
  const causes: FailureCause[] = [];
  if (row.incident_cause) causes.push('incident');
  if (row.rollback_cause) causes.push('rollback');
  if (row.fix_cause) causes.push('fix');
  if (Boolean(row.marked_failed)) causes.push('manual');
  return {
    id: String(row.id),
    source: row.source,
    entityRef: optional(row.entity_ref),
    ownerRef: optional(row.owner_ref),
    environment: row.environment,
    production: Boolean(row.production),
    succeeded: Boolean(row.succeeded),
    finishedAt: iso(row.finished_at) as string,
    commitSha: optional(row.commit_sha),
    url: optional(row.url),
    rollback: Boolean(row.rollback),
    unplannedFix:
      Boolean(row.unplanned_fix) ||
      Boolean(row.rollback) ||
      row.fix_of !== null ||
      row.fix_of_external_id !== null,
    fixOf: optional(row.fix_of),
    failed: Boolean(row.failed),
    failureCauses: causes,
    recoveredAt: iso(row.recovered_at),
    changes: Number(row.changes ?? 0),
    demo: Boolean(row.demo),
  };
}

function toIncidentRow(row: any): IncidentRow {
  return {
    id: String(row.id),
    source: row.source,
    entityRef: optional(row.entity_ref),
    ownerRef: optional(row.owner_ref),
    title: optional(row.title),
    url: optional(row.url),
    detectedAt: iso(row.detected_at) as string,
    resolvedAt: iso(row.resolved_at),
    deploymentId: optional(row.deployment_id),
    demo: Boolean(row.demo),
  };
}
