import type { PerformanceLevel } from '@internal/plugin-dora-common';

/** A duration the way people say it: 45 min, 5.2 h, 3.1 days. */
export function formatDuration(seconds?: number): string {
  if (seconds === undefined) return '—';
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export const formatRate = (rate?: number) =>
  rate === undefined ? '—' : `${(rate * 100).toFixed(1)} %`;

export const formatTime = (iso?: string) =>
  iso ? new Date(iso).toLocaleString() : '—';

export const LEVEL_LABEL: Record<PerformanceLevel, string> = {
  elite: 'Elite',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
};

export const LEVEL_COLOR: Record<PerformanceLevel, string> = {
  elite: '#1b7f3b',
  high: '#2f6fb5',
  medium: '#b7791f',
  low: '#c0392b',
};
