import { describe, expect, it } from "vitest";
import { parseBirthday, problemsFor } from "./draft";

describe("parseBirthday", () => {
  it("is empty when no box is filled", () => {
    expect(parseBirthday({ day: "", month: "", year: "" })).toBeNull();
  });

  it("accepts a birthday without a year", () => {
    expect(parseBirthday({ day: "14", month: "5", year: "" })).toEqual({
      year: null,
      month: 5,
      day: 14,
    });
  });

  it("accepts 29 February only in a leap year or without a year", () => {
    expect(parseBirthday({ day: "29", month: "2", year: "1988" })).toEqual({
      year: 1988,
      month: 2,
      day: 29,
    });
    expect(parseBirthday({ day: "29", month: "2", year: "1991" })).toBe("invalid");
    expect(parseBirthday({ day: "29", month: "2", year: "" })).toEqual({
      year: null,
      month: 2,
      day: 29,
    });
  });

  it("refuses a day that does not exist", () => {
    expect(parseBirthday({ day: "31", month: "4", year: "1980" })).toBe("invalid");
  });
});

describe("problemsFor", () => {
  it("keeps only the problems of one field", () => {
    const problems = [
      { field: "emails.0", code: "invalidEmail" as const },
      { field: "firstName", code: "missingName" as const },
    ];
    expect(problemsFor(problems, "firstName")).toEqual([
      { field: "firstName", code: "missingName" },
    ]);
  });
});
