// Translations: every string the window shows comes from es.json or en.json.
import en from "./en.json";
import es from "./es.json";

export type Locale = "es" | "en";
export type MessageKey = keyof typeof en;
export type Params = Record<string, string | number>;

const dictionaries: Record<Locale, Record<MessageKey, string>> = { en, es };

/** The OS language when it is Spanish or English; Spanish otherwise. */
export function detectLocale(languages: readonly string[] = navigator.languages): Locale {
  for (const language of languages) {
    const base = language.toLowerCase().split("-")[0];
    if (base === "es" || base === "en") return base;
  }
  return "es";
}

let current = $state<Locale>("es");

export const i18n = {
  get locale(): Locale {
    return current;
  },
  set locale(locale: Locale) {
    current = locale;
    if (typeof document !== "undefined") document.documentElement.lang = locale;
  },
};

/** Fills `{name}` placeholders of a message. */
export function format(message: string, params: Params = {}): string {
  return message.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The message `key` in the current language. */
export function t(key: MessageKey, params?: Params): string {
  return format(dictionaries[current][key] ?? key, params);
}

/**
 * The message `key` for `n` things: `key_one` when the language says `n` is singular and
 * that message exists. `{count}` is `n` in the person's number format.
 */
export function tn(key: MessageKey, n: number, params: Params = {}): string {
  const one = `${key}_one`;
  const singular = new Intl.PluralRules(current).select(n) === "one" && one in en;
  const count = new Intl.NumberFormat(current).format(n);
  return t(singular ? (one as MessageKey) : key, { ...params, count });
}

/** True when `key` names a message; for codes that come from the backend. */
export function hasMessage(key: string): key is MessageKey {
  return key in en;
}
