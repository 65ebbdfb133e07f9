import { describe, expect, it } from "vitest";
import { dayLimitsBody, dayLimitsForm, dayLimitsText } from "./dayLimits";

describe("account day limits", () => {
  it("sends rupees as typed and an empty box as null (clears the limit)", () => {
    expect(dayLimitsBody({ loss: " 5000 ", profit: "" })).toEqual({
      daily_loss_limit: "5000", daily_profit_target: null,
    });
  });

  it("round-trips an account's limits through the form", () => {
    const account = { daily_loss_limit: "2500.5", daily_profit_target: null };
    expect(dayLimitsBody(dayLimitsForm(account))).toEqual({
      daily_loss_limit: "2500.5", daily_profit_target: null,
    });
  });

  it("says which limits are in force", () => {
    expect(dayLimitsText({ daily_loss_limit: "5000", daily_profit_target: "8000" }))
      .toBe("Day limits: loss limit Rs 5000, profit target Rs 8000");
    expect(dayLimitsText({})).toBe("No day limits");
  });
});
