// The one door to the Rust side: components import from here, never from @tauri-apps.
import { Channel } from "@tauri-apps/api/core";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open, save } from "@tauri-apps/plugin-dialog";
import { LazyStore } from "@tauri-apps/plugin-store";
import { commands, events, type CommandError } from "./bindings";

export type {
  Appointment,
  Assignment,
  Branch,
  BranchInput,
  CommandError,
  DateOrder,
  Delimiter,
  DeletionOutcome,
  FieldProblem,
  ImportConflict,
  ImportPlacement,
  ImportProgress,
  ImportSummary,
  MappingError,
  PendingDeletion,
  SortKey,
  SyncConflict,
  SyncIssue,
  SyncProblems,
  Tag,
  Target,
  TextEncoding,
} from "./bindings";
import type * as B from "./bindings";

// What the commands return; the same shapes are accepted back.
export type Birthday = B.Birthday_Serialize;
export type ColumnMapping = B.ColumnMapping_Serialize;
export type Customer = B.Customer_Serialize;
export type CustomerFields = B.CustomerFields_Serialize;
export type CustomerFilter = B.CustomerFilter_Serialize;
export type CustomerRow = B.CustomerRow_Serialize;
export type FilePreview = B.FilePreview_Serialize;
export type ImportReview = B.ImportReview_Serialize;
export type ImportSettings = B.ImportSettings_Serialize;
export type Session = B.Session_Serialize;
export type SyncState = B.SyncState_Serialize;
export type Problem = B.Problem_Serialize;

/** An error from a command, with the code the UI translates. */
export class AppError extends Error {
  readonly code: string;
  readonly fields: CommandError["fields"];

  constructor(error: CommandError) {
    super(error.message);
    this.code = error.code;
    this.fields = error.fields;
  }
}

type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: CommandError };

async function call<T>(pending: Promise<Outcome<T>>): Promise<T> {
  const outcome = await pending;
  if (outcome.status === "error") throw new AppError(outcome.error);
  return outcome.data;
}

export const api = {
  appInfo: () => commands.appInfo(),
  listCustomers: (...a: Parameters<typeof commands.listCustomers>) =>
    call(commands.listCustomers(...a)),
  countCustomers: (...a: Parameters<typeof commands.countCustomers>) =>
    call(commands.countCustomers(...a)),
  getCustomer: (...a: Parameters<typeof commands.getCustomer>) => call(commands.getCustomer(...a)),
  checkCustomer: (...a: Parameters<typeof commands.checkCustomer>) => commands.checkCustomer(...a),
  createCustomer: (...a: Parameters<typeof commands.createCustomer>) =>
    call(commands.createCustomer(...a)),
  updateCustomer: (...a: Parameters<typeof commands.updateCustomer>) =>
    call(commands.updateCustomer(...a)),
  deletionPreview: (...a: Parameters<typeof commands.deletionPreview>) =>
    call(commands.deletionPreview(...a)),
  deleteCustomer: (...a: Parameters<typeof commands.deleteCustomer>) =>
    call(commands.deleteCustomer(...a)),
  pendingDeletions: () => call(commands.pendingDeletions()),
  exportCustomers: (...a: Parameters<typeof commands.exportCustomers>) =>
    call(commands.exportCustomers(...a)),
  retryDeletion: (...a: Parameters<typeof commands.retryDeletion>) =>
    call(commands.retryDeletion(...a)),
  listBranches: () => call(commands.listBranches()),
  createBranch: (...a: Parameters<typeof commands.createBranch>) =>
    call(commands.createBranch(...a)),
  updateBranch: (...a: Parameters<typeof commands.updateBranch>) =>
    call(commands.updateBranch(...a)),
  listTags: () => call(commands.listTags()),
  createTag: (...a: Parameters<typeof commands.createTag>) => call(commands.createTag(...a)),
  renameTag: (...a: Parameters<typeof commands.renameTag>) => call(commands.renameTag(...a)),
  customerAppointments: (...a: Parameters<typeof commands.customerAppointments>) =>
    call(commands.customerAppointments(...a)),
  addAppointment: (...a: Parameters<typeof commands.addAppointment>) =>
    call(commands.addAppointment(...a)),
  cancelAppointment: (...a: Parameters<typeof commands.cancelAppointment>) =>
    call(commands.cancelAppointment(...a)),
  importRead: (...a: Parameters<typeof commands.importRead>) => call(commands.importRead(...a)),
  importAnalyze: (...a: Parameters<typeof commands.importAnalyze>) =>
    call(commands.importAnalyze(...a)),
  importRun: (settings: ImportSettings, onProgress: (progress: B.ImportProgress) => void) => {
    const channel = new Channel<B.ImportProgress>();
    channel.onmessage = onProgress;
    return call(commands.importRun(settings, channel));
  },
  importCancel: () => commands.importCancel(),
  syncState: () => call(commands.syncState()),
  syncSignIn: (...a: Parameters<typeof commands.syncSignIn>) => call(commands.syncSignIn(...a)),
  syncSignOut: () => call(commands.syncSignOut()),
  syncNow: () => call(commands.syncNow()),
  syncProblems: () => call(commands.syncProblems()),
};

/** Runs `handler` with the new status after each sync round, and how much it pulled. */
export function onSyncChanged(
  handler: (state: SyncState, pulled: number) => void,
): Promise<() => void> {
  return events.syncChanged.listen((e) => handler(e.payload.state as SyncState, e.payload.pulled));
}

/** Runs `handler` as a long download goes on. */
export function onSyncProgress(
  handler: (done: number, total: number) => void,
): Promise<() => void> {
  return events.syncProgress.listen((e) => handler(e.payload.done, e.payload.total));
}

/** Runs `handler` when blocked deletions complete in the background. */
export function onDeletionsCompleted(handler: (count: number) => void): Promise<() => void> {
  return events.deletionsCompleted.listen((e) => handler(e.payload.count));
}

/** Dragging files over the window: `over` while dragging, then the dropped paths. */
export function onFileDrop(handlers: {
  over: (inside: boolean) => void;
  drop: (paths: string[]) => void;
}): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === "enter" || p.type === "over") handlers.over(true);
    else if (p.type === "leave") handlers.over(false);
    else if (p.type === "drop") {
      handlers.over(false);
      handlers.drop(p.paths);
    }
  });
}

/** Asks for one customer file; null when the person cancels. */
export async function pickCustomerFile(title: string): Promise<string | null> {
  const picked = await open({
    title,
    multiple: false,
    directory: false,
    filters: [{ name: "CSV / TXT", extensions: ["csv", "tsv", "txt", "vcf"] }],
  });
  return typeof picked === "string" ? picked : null;
}

/** Asks where to save an export; null when the person cancels. */
export async function pickExportFile(title: string, name: string): Promise<string | null> {
  return save({ title, defaultPath: name, filters: [{ name: "CSV", extensions: ["csv"] }] });
}

// Preferences live beside the database, so a test's data folder holds its own.
let preferences: Promise<LazyStore> | null = null;

function preferenceStore(): Promise<LazyStore> {
  preferences ??= commands.appInfo().then((info) => new LazyStore(info.preferencesPath));
  return preferences;
}

/** Reads one preference. */
export async function loadPreference<T>(key: string): Promise<T | undefined> {
  return (await preferenceStore()).get<T>(key);
}

/** Saves one preference. */
export async function savePreference(key: string, value: unknown): Promise<void> {
  const store = await preferenceStore();
  await store.set(key, value);
  await store.save();
}
