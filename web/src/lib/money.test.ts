import { describe, expect, it } from "vitest";
import { formatPaise, formatRupees, toPaise } from "./money";
import { countdown, formatClock, istDate, istWeekday, lateness } from "./time";

describe("money", () => {
  it("reads decimal strings into exact paise", () => {
    expect(toPaise("123.45")).toBe(12345);
    expect(toPaise("-0.5")).toBe(-50);
    expect(toPaise("7")).toBe(700);
    expect(() => toPaise("12,000")).toThrow();
  });

  it("groups digits the Indian way", () => {
    expect(formatPaise(12345678)).toBe("Rs 1,23,456.78");
    expect(formatRupees("-1234567.5")).toBe("-Rs 12,34,567.50");
    expect(formatRupees(null)).toBe("-");
  });
});

describe("time", () => {
  it("shows instants in IST whatever the machine's zone", () => {
    expect(formatClock("2026-12-01T03:50:00Z")).toBe("09:20:00 IST");
    expect(istDate(new Date("2026-11-30T19:00:00Z"))).toBe("2026-12-01");
    expect(istWeekday(new Date("2026-11-30T19:00:00Z"))).toBe("TUE");
  });

  it("counts down and measures T+ms", () => {
    const now = new Date("2026-12-01T09:18:55+05:30");
    expect(countdown(new Date("2026-12-01T09:20:00+05:30"), now)).toBe("1m 05s");
    expect(countdown(now, now)).toBe("due");
    expect(lateness("2026-12-01T09:20:00+05:30", "2026-12-01T09:20:00.004250+05:30")).toBe(
      "T+4.3 ms",
    );
    expect(lateness("2026-12-01T09:20:00+05:30", null)).toBeNull();
  });
});
