// Turning values into what the window shows, in the person's language.
import { AppError, type Birthday } from "./backend";
import { hasMessage, i18n, t } from "./i18n/i18n.svelte";

/** "First Last", or whichever part exists. */
export function fullName(c: { firstName: string; lastName: string }): string {
  return [c.firstName, c.lastName].filter(Boolean).join(" ");
}

/** Date and time of `utc` as seen in `timeZone`, marked with the zone when it is not ours. */
export function dateTimeIn(utc: string, timeZone: string): string {
  const formatted = new Intl.DateTimeFormat(i18n.locale, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone,
  }).format(new Date(utc));
  const ours = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return timeZone === ours ? formatted : `${formatted} (${timeZone})`;
}

/** A birthday, with or without its year. */
export function birthday(b: Birthday): string {
  const date = new Date(Date.UTC(b.year ?? 2000, b.month - 1, b.day));
  const options: Intl.DateTimeFormatOptions =
    b.year === null
      ? { day: "numeric", month: "long", timeZone: "UTC" }
      : { dateStyle: "long", timeZone: "UTC" };
  return new Intl.DateTimeFormat(i18n.locale, options).format(date);
}

/** A count in the person's locale. */
export function count(n: number): string {
  return new Intl.NumberFormat(i18n.locale).format(n);
}

/** What to tell the person about a failed action. */
export function errorMessage(error: unknown): string {
  return error instanceof AppError ? codeMessage(error.code) : t("error.unexpected");
}

/** The message for an error code from the backend. */
export function codeMessage(code: string): string {
  const key = `error.${code}`;
  return hasMessage(key) ? t(key) : t("error.unexpected");
}
