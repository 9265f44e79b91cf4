export interface Config {
  /** Portico's DORA metrics. */
  dora?: {
    /**
     * The IANA time zone that days and weeks are counted in (deployment frequency, weekly trends).
     * Default UTC. Changing it recomputes the stored days at the next start.
     */
    timeZone?: string;
    /** Environment names that count as production, case-insensitive. Default: production, prod. */
    productionEnvironments?: string[];
    /** The benchmark set that classifies figures: "2024" (default), "2023", or the id of one below. */
    benchmark?: string;
    /** Benchmark sets of your own, or replacements for DORA's by the same id. */
    benchmarks?: Array<{
      id: string;
      name: string;
      /** Best level first. */
      levels: Array<{
        level: 'elite' | 'high' | 'medium' | 'low';
        /** The least frequent bucket that reaches this level: daily, weekly, monthly or lower. */
        deploymentFrequency?: string;
        leadTimeMaxSeconds?: number;
        changeFailureRateMax?: number;
        recoveryTimeMaxSeconds?: number;
        reworkRateMax?: number;
      }>;
    }>;
    github?: {
      /** GitHub Actions workflows (file path like `.github/workflows/deploy.yml`, or name) that deploy to production. */
      deploymentWorkflows?: string[];
    };
    /** Seed a demo history for the demo catalog at start (development only). */
    demoData?: boolean;
  };
  events?: {
    modules?: {
      github?: {
        /**
         * The secret of GitHub webhooks, checked against X-Hub-Signature-256.
         * @visibility secret
         */
        webhookSecret?: string;
      };
      gitlab?: {
        /**
         * The secret token of GitLab webhooks (X-Gitlab-Token).
         * @visibility secret
         */
        webhookSecret?: string;
      };
      pagerduty?: {
        /**
         * The signing secrets of PagerDuty V3 webhook subscriptions (X-PagerDuty-Signature).
         * @visibility secret
         */
        webhookSecrets?: string[];
      };
      cdevents?: {
        /**
         * The bearer token CDEvents senders send (Authorization: Bearer ...).
         * @visibility secret
         */
        token?: string;
      };
    };
  };
}
