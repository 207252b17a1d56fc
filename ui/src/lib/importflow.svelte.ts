// The import wizard's state: read → map → review → run → done. Components only render it.
import {
  api,
  type ColumnMapping,
  type DateOrder,
  type Delimiter,
  type FilePreview,
  type ImportPlacement,
  type ImportProgress,
  type ImportReview,
  type ImportSettings,
  type ImportSummary,
  type Target,
  type TextEncoding,
} from "./backend";

export type Step = "reading" | "file" | "mapping" | "review" | "running" | "done";

export class ImportFlow {
  step = $state<Step>("reading");
  preview = $state<FilePreview | null>(null);
  mapping = $state<ColumnMapping[]>([]);
  review = $state<ImportReview | null>(null);
  summary = $state<ImportSummary | null>(null);
  progress = $state<ImportProgress | null>(null);
  error = $state<unknown>(null);
  busy = $state(false);
  dateOrder = $state<DateOrder>("dayMonth");
  placement = $state<ImportPlacement>({
    defaultAssignment: { kind: "allBranches" },
    branchMap: [],
  });

  constructor(
    readonly path: string,
    private readonly region: () => string,
  ) {}

  /** Reads the file, again with another encoding or delimiter when given. */
  async read(encoding: TextEncoding | null = null, delimiter: Delimiter | null = null) {
    await this.#attempt(async () => {
      this.preview = await api.importRead(this.path, encoding, delimiter);
      this.mapping = this.preview.mapping;
      this.step = "file";
    });
  }

  /** The person picked the field of one column. */
  setTarget(column: number, target: Target | null) {
    const m = this.mapping.find((c) => c.column === column);
    if (m) {
      m.target = target;
      m.guessed = false;
    }
  }

  /** The person confirmed the columns that share a header, as they are mapped now. */
  confirmColumns(letters: string[]) {
    for (const m of this.mapping) if (letters.includes(m.letter)) m.guessed = false;
    if (this.preview) this.preview.mappingError = null;
  }

  /** Maps a branch name of the file to a stored branch. */
  mapBranch(name: string, branch: string) {
    this.placement.branchMap = [
      ...this.placement.branchMap.filter(([n]) => n !== name),
      [name, branch],
    ];
  }

  settings(): ImportSettings {
    return {
      mapping: $state.snapshot(this.mapping),
      region: this.region(),
      dateOrder: this.dateOrder,
      placement: $state.snapshot(this.placement),
    };
  }

  /** What the import would do, before anything is written. */
  async analyze() {
    await this.#attempt(async () => {
      this.review = await api.importAnalyze(this.settings());
      this.step = "review";
    });
  }

  /** Writes the customers; nothing is written when it fails or is cancelled. */
  async run() {
    this.step = "running";
    this.progress = null;
    await this.#attempt(async () => {
      this.summary = await api.importRun(this.settings(), (p) => (this.progress = p));
      this.step = "done";
    });
    if (this.step === "running") this.step = "review";
  }

  cancel() {
    void api.importCancel();
  }

  get canRun(): boolean {
    return (
      !!this.review && this.review.unknownBranches.length === 0 && this.review.counts.customers > 0
    );
  }

  async #attempt(action: () => Promise<void>) {
    this.busy = true;
    this.error = null;
    try {
      await action();
    } catch (e) {
      this.error = e;
    } finally {
      this.busy = false;
    }
  }
}
