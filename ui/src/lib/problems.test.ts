import { describe, expect, it } from "vitest";
import type { Problem } from "./backend";
import { i18n } from "./i18n/i18n.svelte";
import { fieldLabel, problemText } from "./problems";

const column = (index: number, letter: string, header: string) => ({ index, letter, header });

describe("problemText", () => {
  it("names the row, the column and the reason in Spanish", () => {
    i18n.locale = "es";
    const problem: Problem = {
      row: 6,
      severity: "error",
      code: "invalidEmailNoOtherContact",
      column: column(2, "C", "email"),
      columns: [],
      value: "sara.nieto@@example.com",
    };
    expect(problemText(problem)).toBe(
      'Fila 6, columna C («email»): correo no válido "sara.nieto@@example.com"; ' +
        "sin teléfono, la fila no se importa.",
    );
  });

  it("names both columns when a row lacks a name", () => {
    i18n.locale = "en";
    const problem: Problem = {
      row: 3,
      severity: "error",
      code: "missingName",
      column: null,
      columns: [column(0, "A", "nombre"), column(1, "B", "apellidos")],
      value: null,
    };
    expect(problemText(problem)).toBe(
      'Row 3, columns "nombre", "apellidos": no name (first and last name are empty); ' +
        "the row is not imported.",
    );
  });
});

describe("fieldLabel", () => {
  it("names a conflicting field in the person's language", () => {
    i18n.locale = "es";
    expect(fieldLabel("firstName")).toBe("Nombre");
    expect(fieldLabel("somethingNew")).toBe("somethingNew");
  });
});
