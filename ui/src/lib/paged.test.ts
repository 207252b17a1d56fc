import { describe, expect, it } from "vitest";
import { PagedList } from "./paged.svelte";

function numbers(total: number) {
  const calls: number[] = [];
  const list = new PagedList<number>(
    async (offset, limit) => {
      calls.push(offset);
      return Array.from(
        { length: Math.max(0, Math.min(limit, total - offset)) },
        (_, i) => offset + i,
      );
    },
    async () => total,
    10,
  );
  return { list, calls };
}

describe("PagedList", () => {
  it("loads only the first page on reset", async () => {
    const { list, calls } = numbers(95);
    await list.reset();
    expect(list.total).toBe(95);
    expect(list.row(3)).toBe(3);
    expect(list.row(15)).toBeUndefined();
    expect(calls).toEqual([0]);
  });

  it("fetches the pages a scrolled window needs, once each", async () => {
    const { list, calls } = numbers(95);
    await list.reset();
    await Promise.all([list.ensure(25, 41), list.ensure(30, 35)]);
    expect(calls).toEqual([0, 20, 30, 40]);
    expect(list.row(40)).toBe(40);
  });

  it("does not ask past the end of the list", async () => {
    const { list, calls } = numbers(12);
    await list.reset();
    await list.ensure(0, 500);
    expect(calls).toEqual([0, 10]);
  });

  it("ignores a page that arrives after a reset", async () => {
    let release: () => void = () => {};
    let slow = true;
    const list = new PagedList<string>(
      async () => {
        if (slow) {
          slow = false;
          await new Promise<void>((r) => (release = r));
          return ["stale"];
        }
        return ["fresh"];
      },
      async () => 1,
    );
    const first = list.reset();
    const second = list.reset();
    release();
    await Promise.all([first, second]);
    expect(list.row(0)).toBe("fresh");
  });
});
