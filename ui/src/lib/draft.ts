// The customer form's working copy and the checks that need no round trip.
import type { Assignment, Customer, CustomerFields, FieldProblem } from "./backend";

export type Draft = {
  fields: CustomerFields;
  assignment: Assignment;
  birthday: { day: string; month: string; year: string };
};

export function emptyFields(): CustomerFields {
  return {
    firstName: "",
    lastName: "",
    emails: [{ address: "", label: null, primary: true }],
    phones: [{ number: "", label: null, primary: true }],
    birthday: null,
    gender: null,
    address: { street: "", city: "", postcode: "", region: "", country: "" },
    company: "",
    notes: "",
    externalId: "",
    tags: [],
  };
}

/** A draft for a new customer, or a copy of an existing one to edit. */
export function draftOf(existing?: Customer): Draft {
  if (!existing) {
    return {
      fields: emptyFields(),
      assignment: { kind: "allBranches" },
      birthday: { day: "", month: "", year: "" },
    };
  }
  const fields = structuredClone({
    firstName: existing.firstName,
    lastName: existing.lastName,
    emails: existing.emails.length ? existing.emails : emptyFields().emails,
    phones: existing.phones.length ? existing.phones : emptyFields().phones,
    birthday: existing.birthday,
    gender: existing.gender,
    address: existing.address,
    company: existing.company,
    notes: existing.notes,
    externalId: existing.externalId,
    tags: existing.tags,
  });
  const b = existing.birthday;
  return {
    fields,
    assignment: structuredClone(existing.assignment),
    birthday: {
      day: b ? String(b.day) : "",
      month: b ? String(b.month) : "",
      year: b?.year ? String(b.year) : "",
    },
  };
}

/** The birthday the three boxes describe: null when empty, "invalid" when it is no date. */
export function parseBirthday(b: Draft["birthday"]): CustomerFields["birthday"] | "invalid" {
  if (!b.day && !b.month && !b.year) return null;
  const day = Number(b.day);
  const month = Number(b.month);
  const year = b.year ? Number(b.year) : null;
  if (!Number.isInteger(day) || !Number.isInteger(month)) return "invalid";
  if (year !== null && (!Number.isInteger(year) || year < 1900 || year > 2100)) return "invalid";
  const probe = new Date(Date.UTC(year ?? 2000, month - 1, day));
  if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return "invalid";
  return { year, month, day };
}

/** The problems to show on `field`, once the person has left it. */
export function problemsFor(problems: FieldProblem[], field: string): FieldProblem[] {
  return problems.filter((p) => p.field === field);
}
