// The sync status the sidebar and the Sync screen show, kept current by the backend's events.
import { api, onSyncChanged, onSyncProgress, type SyncState } from "./backend";
import { catalog } from "./data.svelte";

class SyncStatus {
  state = $state<SyncState | null>(null);
  /** Progress of a long download, or null when none runs. */
  progress = $state<{ done: number; total: number } | null>(null);
  /** Bumped when conflicts or issues may have changed. */
  version = $state(0);

  async load(): Promise<void> {
    this.state = await api.syncState();
  }

  /** Follows the backend's events; returns what stops following them. */
  listen(): Promise<() => void>[] {
    return [
      onSyncChanged((state, pulled) => {
        this.state = state;
        this.progress = null;
        this.version += 1;
        if (pulled > 0) void catalog.customersChanged();
      }),
      onSyncProgress((done, total) => {
        this.progress = total > 0 && done < total ? { done, total } : null;
      }),
    ];
  }
}

export const sync = new SyncStatus();
