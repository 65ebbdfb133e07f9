/**
 * Time on the client is IST and the platform's: the server may run on a shifted clock (`make run
 * AT=...`), so "now" is the browser's clock plus the offset measured from GET /health.
 */

export const IST = "Asia/Kolkata";

const clockFormat = new Intl.DateTimeFormat("en-IN", {
  timeZone: IST,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const dateTimeFormat = new Intl.DateTimeFormat("en-IN", {
  timeZone: IST,
  day: "2-digit",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** "09:20:00 IST" for an instant. */
export function formatClock(instant: string | Date): string {
  return `${clockFormat.format(new Date(instant))} IST`;
}

/** "01 Dec 2026, 09:20:00 IST" for an instant. */
export function formatDateTime(instant: string | Date): string {
  return `${dateTimeFormat.format(new Date(instant))} IST`;
}

/** The IST calendar date (YYYY-MM-DD) of an instant. */
export function istDate(instant: Date): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: IST,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(instant);
  return parts;
}

/** The IST weekday (MON..SUN) of an instant. */
export function istWeekday(instant: Date): string {
  return new Intl.DateTimeFormat("en-US", { timeZone: IST, weekday: "short" })
    .format(instant)
    .toUpperCase();
}

/** The instant of an IST wall-clock time (HH:MM[:SS]) on an IST date (YYYY-MM-DD). */
export function istInstant(day: string, clock: string): Date {
  const withSeconds = clock.length === 5 ? `${clock}:00` : clock;
  return new Date(`${day}T${withSeconds}+05:30`);
}

/** "T-1m 05s" / "T+12.3 s" style countdown between two instants. */
export function countdown(target: Date, now: Date): string {
  const ms = target.getTime() - now.getTime();
  if (ms <= 0) return "due";
  const total = Math.ceil(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}h ${pad(minutes)}m ${pad(seconds)}s` : `${minutes}m ${pad(seconds)}s`;
}

/** Milliseconds from `scheduled` to `sent` ("T+3.2 ms"), or null when not sent. */
export function lateness(scheduled: string, sent: string | null | undefined): string | null {
  if (!sent) return null;
  const micro = (iso: string) => {
    const match = /\.(\d+)/.exec(iso);
    const fraction = match?.[1] ?? "";
    return new Date(iso).getTime() * 1000 + Number(fraction.padEnd(6, "0").slice(3, 6));
  };
  const ms = (micro(sent) - micro(scheduled)) / 1000;
  return `T${ms >= 0 ? "+" : ""}${ms.toFixed(1)} ms`;
}
