// Import problems in words: the row, the column and the reason, in the person's language.
import type { Problem } from "./backend";
import { hasMessage, t } from "./i18n/i18n.svelte";

/** "Row 6, column C ("email"): …" */
export function problemText(p: Problem): string {
  const where = p.column
    ? t("problem.rowColumn", { row: p.row, column: p.column.letter, header: p.column.header })
    : p.columns.length > 0
      ? t("problem.rowColumns", {
          row: p.row,
          headers: p.columns.map((c) => `"${c.header}"`).join(", "),
        })
      : t("problem.row", { row: p.row });
  return `${where}: ${t(`problem.${p.code}`, { value: p.value ?? "" })}`;
}

/** The label of a customer field named in a conflict (`firstName` → "Nombre"). */
export function fieldLabel(field: string): string {
  const key = `target.${field}`;
  return hasMessage(key) ? t(key) : field;
}
