import type {
  DeploymentRow,
  DoraScope,
  DoraSummary,
  IncidentRow,
  Page,
  UnattributedRow,
} from './types';
import type { BenchmarkSet } from './benchmarks';

/** Which figures to ask for: a scope, and a window of days back from now or from/to. */
export interface DoraQuery extends DoraScope {
  window?: number;
  from?: string;
  to?: string;
  benchmark?: string;
}

export interface DoraApi {
  getSummary(query: DoraQuery): Promise<DoraSummary>;
  listDeployments(
    query: DoraQuery & { failed?: boolean; limit?: number; offset?: number },
  ): Promise<Page<DeploymentRow>>;
  listIncidents(
    query: DoraQuery & { limit?: number; offset?: number },
  ): Promise<Page<IncidentRow>>;
  listUnattributed(): Promise<UnattributedRow[]>;
  getBenchmarks(): Promise<{ default: string; sets: BenchmarkSet[] }>;
  markDeployment(
    id: string,
    mark: { failed?: boolean; fixOf?: string | null },
  ): Promise<DeploymentRow>;
}

/** The parts of Backstage's discovery and fetch APIs the client needs, so this package stays isomorphic. */
export interface DoraClientOptions {
  discoveryApi: { getBaseUrl(pluginId: string): Promise<string> };
  fetchApi: { fetch: typeof fetch };
}

export class DoraClient implements DoraApi {
  constructor(private readonly options: DoraClientOptions) {}

  getSummary(query: DoraQuery) {
    return this.get<DoraSummary>('/summary', query);
  }

  listDeployments(
    query: DoraQuery & { failed?: boolean; limit?: number; offset?: number },
  ) {
    return this.get<Page<DeploymentRow>>('/deployments', query);
  }

  listIncidents(query: DoraQuery & { limit?: number; offset?: number }) {
    return this.get<Page<IncidentRow>>('/incidents', query);
  }

  async listUnattributed() {
    return (await this.get<{ items: UnattributedRow[] }>('/unattributed', {}))
      .items;
  }

  getBenchmarks() {
    return this.get<{ default: string; sets: BenchmarkSet[] }>(
      '/benchmarks',
      {},
    );
  }

  markDeployment(
    id: string,
    mark: { failed?: boolean; fixOf?: string | null },
  ) {
    return this.request<DeploymentRow>(
      `/deployments/${encodeURIComponent(id)}/mark`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(mark),
      },
    );
  }

  private get<T>(path: string, query: object) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') params.set(key, String(value));
    }
    const search = params.toString();
    return this.request<T>(search ? `${path}?${search}` : path, {});
  }

  private async request<T>(path: string, init: RequestInit): Promise<T> {
    const base = await this.options.discoveryApi.getBaseUrl('dora');
    const response = await this.options.fetchApi.fetch(`${base}${path}`, init);
    if (!response.ok) {
      const body = await response.json().catch(() => undefined);
      throw new Error(
        body?.error?.message ?? `DORA API answered ${response.status}`,
      );
    }
    return (await response.json()) as T;
  }
}
