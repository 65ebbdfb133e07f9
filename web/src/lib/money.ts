/**
 * Money on the client: decimal strings from the API become integer paise, so sums never drift,
 * and are shown with Indian digit grouping (Rs 1,23,456.78).
 */

/** "123.45" -> 12345; "-0.5" -> -50; throws on anything that is not a decimal number. */
export function toPaise(value: string | number): number {
  const text = typeof value === "number" ? value.toFixed(2) : value.trim();
  const match = /^(-?)(\d+)(?:\.(\d{1,2})\d*)?$/.exec(text);
  if (!match) throw new Error(`not a decimal amount: ${String(value)}`);
  const [, sign, whole, fraction = ""] = match;
  const paise = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  return sign === "-" && paise !== 0 ? -paise : paise;
}

const grouping = new Intl.NumberFormat("en-IN", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

/** 12345678 paise -> "Rs 1,23,456.78"; negative amounts keep their sign in front. */
export function formatPaise(paise: number): string {
  const sign = paise < 0 ? "-" : "";
  return `${sign}Rs ${grouping.format(Math.abs(paise) / 100)}`;
}

/** A decimal string (or null) from the API as rupees with Indian grouping, or a dash. */
export function formatRupees(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  return formatPaise(toPaise(value));
}

/** A plain number with Indian grouping (quantities, strikes). */
export function formatNumber(value: string | number): string {
  return new Intl.NumberFormat("en-IN", { maximumFractionDigits: 2 }).format(Number(value));
}
