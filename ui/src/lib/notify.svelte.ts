// Short messages in the corner of the window.

export type Notice = { id: number; text: string; kind: "info" | "error" };

class Notices {
  list = $state<Notice[]>([]);
  #next = 1;

  show(text: string, kind: Notice["kind"] = "info") {
    const id = this.#next++;
    this.list.push({ id, text, kind });
    setTimeout(() => this.dismiss(id), kind === "error" ? 8000 : 4000);
  }

  dismiss(id: number) {
    this.list = this.list.filter((n) => n.id !== id);
  }
}

export const notices = new Notices();
