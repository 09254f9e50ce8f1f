/**
 * One date format in human output (issue 14, item 13): `2026-12-04 17:20 UTC`, sortable and free of
 * locale (no ICU set-up: the first toLocaleDateString costs ~30 ms). --json keeps ISO 8601.
 */
export function dateText(d: Date | string): string {
  const date = typeof d === 'string' ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) return String(d); // not a date: shown as given, never a crash
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The same date without the time, for table columns (`dbtls list`): `2026-12-04`. */
export const dayText = (d: Date | string): string => dateText(d).slice(0, 10);

/** Whole days from `now` until `until` (a certificate's notAfter), negative once past: one rounding everywhere. */
export function daysLeft(until: Date, now: Date = new Date()): number {
  return Math.floor((until.getTime() - now.getTime()) / 86_400_000);
}
