import { describe, expect, it } from "vitest";
import { describeDeliveries, effective, kindLabel, toggle } from "./notifications";

const URGENT = ["stop_not_placed", "kill_switch_engaged"];

describe("notification preferences", () => {
  it("labels kinds for people", () => {
    expect(kindLabel("entry_done")).toBe("Entry done");
    expect(kindLabel("mtm_exit")).toBe("MTM exit");
  });

  it("keeps in-app on and sends urgent kinds everywhere", () => {
    expect(effective({ entry_done: ["telegram"] }, "entry_done", URGENT)).toEqual(["in_app", "telegram"]);
    expect(effective({ stop_not_placed: [] }, "stop_not_placed", URGENT))
      .toEqual(["in_app", "telegram", "email"]);
    expect(effective({}, "day_report", URGENT)).toEqual(["in_app"]);
  });

  it("toggles a channel for one kind only, never in-app nor an urgent kind", () => {
    const start = { entry_done: ["in_app" as const], exit_done: ["in_app" as const, "telegram" as const] };
    const on = toggle(start, "entry_done", "email", true, URGENT);
    expect(on.entry_done).toEqual(["in_app", "email"]);
    expect(on.exit_done).toEqual(["in_app", "telegram"]);
    expect(toggle(on, "exit_done", "telegram", false, URGENT).exit_done).toEqual(["in_app"]);
    expect(toggle(on, "entry_done", "in_app", false, URGENT)).toBe(on);
    expect(toggle(on, "stop_not_placed", "telegram", false, URGENT)).toBe(on);
  });

  it("describes deliveries", () => {
    expect(describeDeliveries({ telegram: "SENT", email: "FAILED: throttled" }))
      .toBe("telegram: SENT, email: FAILED: throttled");
    expect(describeDeliveries({})).toBe("in-app only");
    expect(describeDeliveries(undefined)).toBe("in-app only");
  });
});
