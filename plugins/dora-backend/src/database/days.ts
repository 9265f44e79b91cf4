import { DateTime } from 'luxon';

export const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of the calendar day `ms` falls on in `zone`. */
export function localDay(ms: number, zone: string): number {
  const local = DateTime.fromMillis(ms, { zone });
  return Math.round(Date.UTC(local.year, local.month - 1, local.day) / DAY_MS);
}

/** The instant local day `day` (as `localDay` counts) begins in `zone`. */
export function localDayStart(day: number, zone: string): number {
  const date = new Date(day * DAY_MS);
  return DateTime.fromObject(
    {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
    },
    { zone },
  ).toMillis();
}

/** Monday-based week number of a local day: 1970-01-01 was a Thursday. */
export function weekOf(day: number): number {
  return Math.floor((day + 3) / 7);
}

/** The local day (as `localDay` counts) that week `week` (as `weekOf` counts) begins with, a Monday. */
export function weekStartDay(week: number): number {
  return 7 * week - 3;
}

/** A window cut into its whole local days, `first` to `last`, and the partial days at its edges. */
export interface WholeDays {
  first: number;
  last: number;
  /** The parts of the window before and after the whole days; none where it begins or ends a day. */
  edges: { from: number; to: number }[];
}

/** The whole days of `window` in `zone`, if it has any. */
export function wholeDaysOf(
  window: { from: number; to: number },
  zone: string,
): WholeDays | undefined {
  const start = (day: number) => localDayStart(day, zone);
  const firstDay = localDay(window.from, zone);
  const lastDay = localDay(window.to - 1, zone);
  const first = start(firstDay) === window.from ? firstDay : firstDay + 1;
  const last = start(lastDay + 1) === window.to ? lastDay : lastDay - 1;
  if (first > last) return undefined;
  const edges = [
    { from: window.from, to: start(first) },
    { from: start(last + 1), to: window.to },
  ].filter(range => range.from < range.to);
  return { first, last, edges };
}
