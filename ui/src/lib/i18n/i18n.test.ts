import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import en from "./en.json";
import es from "./es.json";
import { format, i18n, tn } from "./i18n.svelte";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(svelte|ts)$/.test(name) && !name.endsWith(".test.ts") ? [path] : [];
  });
}

describe("translations", () => {
  it("Spanish and English have the same messages", () => {
    expect(Object.keys(es).sort()).toEqual(Object.keys(en).sort());
  });

  it("every message keeps the placeholders of its English twin", () => {
    const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const [key, text] of Object.entries(en)) {
      expect(placeholders(es[key as keyof typeof es]), key).toEqual(placeholders(text));
    }
  });

  it("every key the code asks for exists", () => {
    const src = join(import.meta.dirname, "..", "..");
    const used = sourceFiles(src).flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/\btn?\(\s*"([\w.]+)"/g)].map((m) => m[1]),
    );
    expect(used.length).toBeGreaterThan(50);
    expect(used.filter((key) => key && !(key in en))).toEqual([]);
  });

  it("fills placeholders and leaves unknown ones visible", () => {
    expect(format("{count} clientes de {who}", { count: 3 })).toBe("3 clientes de {who}");
  });
});

describe("tn", () => {
  it("uses the singular message for one and the plural for others", () => {
    i18n.locale = "es";
    expect(tn("customers.count", 1)).toBe("1 cliente");
    expect(tn("customers.count", 0)).toBe("0 clientes");
    i18n.locale = "en";
    expect(tn("customers.count", 12345)).toBe("12,345 customers");
  });
});
