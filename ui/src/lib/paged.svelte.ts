// A window onto a long list that the database pages: rows are fetched a page at a time as
// they scroll into view, and a reset (new filter) drops every page at once.

export type PageFetcher<Row> = (offset: number, limit: number) => Promise<Row[]>;
export type Counter = () => Promise<number>;

export class PagedList<Row> {
  total = $state(0);
  loaded = $state(false);
  /** Bumped whenever a page arrives, so readers of `row()` update. */
  version = $state(0);

  #pages = new Map<number, Row[]>();
  #pending = new Set<number>();
  #generation = 0;

  constructor(
    private readonly fetchPage: PageFetcher<Row>,
    private readonly count: Counter,
    readonly pageSize = 100,
  ) {}

  /** Forgets every page, counts again and loads the first page. */
  async reset(): Promise<void> {
    this.#generation += 1;
    const generation = this.#generation;
    this.#pages.clear();
    this.#pending.clear();
    const [total] = await Promise.all([this.count(), this.#load(0)]);
    if (generation !== this.#generation) return;
    this.total = total;
    this.loaded = true;
  }

  /** The row at `index`, or undefined while its page is loading. */
  row(index: number): Row | undefined {
    void this.version;
    const page = this.#pages.get(Math.floor(index / this.pageSize));
    return page?.[index % this.pageSize];
  }

  /** Loads the pages that hold rows `start` to `end` (exclusive). */
  async ensure(start: number, end: number): Promise<void> {
    const first = Math.floor(Math.max(0, start) / this.pageSize);
    const last = Math.floor(Math.max(0, end - 1) / this.pageSize);
    const loads: Promise<void>[] = [];
    for (let page = first; page <= last; page++) {
      if (page * this.pageSize >= this.total && page > 0) break;
      if (!this.#pages.has(page) && !this.#pending.has(page)) loads.push(this.#load(page));
    }
    await Promise.all(loads);
  }

  async #load(page: number): Promise<void> {
    const generation = this.#generation;
    this.#pending.add(page);
    try {
      const rows = await this.fetchPage(page * this.pageSize, this.pageSize);
      if (generation !== this.#generation) return;
      this.#pages.set(page, rows);
      this.version += 1;
    } finally {
      if (generation === this.#generation) this.#pending.delete(page);
    }
  }
}
