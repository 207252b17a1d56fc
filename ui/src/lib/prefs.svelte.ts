// Preferences the person sets or the window remembers, kept in the preferences store.
import { loadPreference, savePreference, type CustomerFilter } from "./backend";
import { detectLocale, i18n, type Locale } from "./i18n/i18n.svelte";

export type View =
  "customers" | "deletions" | "branches" | "tags" | "imports" | "sync" | "settings";
export type Theme = "system" | "light" | "dark";

export const emptyFilter = (): CustomerFilter => ({
  search: "",
  branch: null,
  tag: null,
  origin: null,
  minBookings: null,
  sort: "name",
  descending: false,
});

class Preferences {
  region = $state("ES");
  theme = $state<Theme>("system");
  view = $state<View>("customers");
  filter = $state<CustomerFilter>(emptyFilter());

  /** Reads every preference; missing ones keep their defaults. */
  async load(): Promise<void> {
    i18n.locale = (await loadPreference<Locale>("language")) ?? detectLocale();
    this.region = (await loadPreference<string>("region")) ?? "ES";
    this.theme = (await loadPreference<Theme>("theme")) ?? "system";
    this.view = (await loadPreference<View>("view")) ?? "customers";
    this.filter = { ...emptyFilter(), ...((await loadPreference<CustomerFilter>("filter")) ?? {}) };
    applyTheme(this.theme);
  }

  setLocale(locale: Locale) {
    i18n.locale = locale;
    void savePreference("language", locale);
  }

  setRegion(region: string) {
    this.region = region;
    void savePreference("region", region);
  }

  setTheme(theme: Theme) {
    this.theme = theme;
    applyTheme(theme);
    void savePreference("theme", theme);
  }

  setView(view: View) {
    this.view = view;
    void savePreference("view", view);
  }

  setFilter(filter: CustomerFilter) {
    this.filter = filter;
    void savePreference("filter", filter);
  }
}

function applyTheme(theme: Theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

export const prefs = new Preferences();
