// Branches and tags, shared by the filters, the form and their own screens.
import { api, type Branch, type Tag } from "./backend";
import { emptyFilter } from "./prefs.svelte";

class Catalog {
  branches = $state<Branch[]>([]);
  tags = $state<Tag[]>([]);
  pendingDeletions = $state(0);
  customersTotal = $state(0);
  /** Bumped after any change to customers, so open lists reload. */
  customersVersion = $state(0);

  async refresh(): Promise<void> {
    const [branches, tags, pending, all] = await Promise.all([
      api.listBranches(),
      api.listTags(),
      api.pendingDeletions(),
      api.countCustomers(emptyFilter()),
    ]);
    this.customersTotal = all;
    this.branches = branches;
    this.tags = tags;
    this.pendingDeletions = pending.length;
  }

  /** Call after customers changed: reloads lists and counts. */
  async customersChanged(): Promise<void> {
    this.customersVersion += 1;
    await this.refresh();
  }

  branchName(id: string): string {
    return this.branches.find((b) => b.id === id)?.name ?? "";
  }
}

export const catalog = new Catalog();
