import type { DoraMetricId } from './types';

/** How each figure is computed: shown in the page's info tooltips and in the README, from this one place. */
export const METRIC_DEFINITIONS: Record<
  DoraMetricId,
  { title: string; definition: string }
> = {
  deploymentFrequency: {
    title: 'Deployment frequency',
    definition:
      'Successful production deployments per day and per week in the window. The bucket comes from the median, over the ' +
      "window's weeks (a week without deployments counts as 0), of the days that had a deployment: 3 or more is daily " +
      '(on demand), 1 or more weekly, else monthly when the median 30-day period has one, else lower.',
  },
  leadTime: {
    title: 'Lead time for changes',
    definition:
      'Median and 90th percentile of the time from the first commit of each change to the end of the first successful ' +
      'production deployment that shipped it, for changes shipped in the window; merge to deployment likewise. A change ' +
      'shipped by two deployments counts once, by the first. Non-positive times (clock skew, bad data) are left out and counted.',
  },
  changeFailureRate: {
    title: 'Change failure rate',
    definition:
      'Successful production deployments that failed, divided by all of them. A deployment failed when an incident is ' +
      'linked to it, it was rolled back, a later deployment is marked as its fix, or a person marked it; it counts once ' +
      'however many incidents it caused.',
  },
  recoveryTime: {
    title: 'Failed deployment recovery time',
    definition:
      'Median time from a failed deployment to its recovery: the earliest rollback or fix deployment, else the ' +
      'resolution of the last of its incidents. Failures not yet recovered are counted but have no time.',
  },
  reworkRate: {
    title: 'Rework rate',
    definition:
      'Unplanned deployments made to fix a production problem (rollbacks, fixes of another deployment, deployments ' +
      'sent as unplanned fixes) divided by all successful production deployments (DORA 2024).',
  },
};
