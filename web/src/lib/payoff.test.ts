import { describe, expect, it } from "vitest";
import { type PayoffLeg, payoffAt, summarise } from "./payoff";

const R = (rupees: number) => Math.round(rupees * 100);
const leg = (side: "BUY" | "SELL", optionType: "CE" | "PE", strike: number, premium: number,
  quantity = 75): PayoffLeg => ({ side, optionType, strike: R(strike), premium: R(premium), quantity });

describe("payoff at expiry", () => {
  it("prices a long call by its intrinsic value less the premium", () => {
    const call = [leg("BUY", "CE", 24000, 100, 1)];
    expect(payoffAt(call, R(23900))).toBe(R(-100));
    expect(payoffAt(call, R(24100))).toBe(0);
    expect(payoffAt(call, R(24250))).toBe(R(150));
  });

  it("finds an iron condor's breakevens, capped profit and capped loss", () => {
    // Sell 24100 CE @ 60 and 23900 PE @ 55, buy 24300 CE @ 20 and 23700 PE @ 18: credit 77.
    const condor = [
      leg("SELL", "CE", 24100, 60), leg("BUY", "CE", 24300, 20),
      leg("SELL", "PE", 23900, 55), leg("BUY", "PE", 23700, 18),
    ];
    const summary = summarise(condor);
    expect(summary.maxProfit).toBe(R(77 * 75));
    expect(summary.maxLoss).toBe(R(-(200 - 77) * 75));
    expect(summary.breakevens).toEqual([R(23900 - 77), R(24100 + 77)]);
  });

  it("says a short straddle's loss is unlimited and its breakevens are strike +- credit", () => {
    const straddle = [leg("SELL", "CE", 24000, 150), leg("SELL", "PE", 24000, 140)];
    const summary = summarise(straddle);
    expect(summary.maxProfit).toBe(R(290 * 75));
    expect(summary.maxLoss).toBeNull();
    expect(summary.breakevens).toEqual([R(24000 - 290), R(24000 + 290)]);
  });

  it("says a long strangle's profit is unlimited", () => {
    const strangle = [leg("BUY", "CE", 24200, 40), leg("BUY", "PE", 23800, 35)];
    const summary = summarise(strangle);
    expect(summary.maxProfit).toBeNull();
    expect(summary.maxLoss).toBe(R(-75 * 75));
    expect(summary.breakevens).toEqual([R(23800 - 75), R(24200 + 75)]);
  });

  it("keeps a bull call spread's figures exact in paise", () => {
    const spread = [leg("BUY", "CE", 24000, 120.35, 50), leg("SELL", "CE", 24100, 70.2, 50)];
    const summary = summarise(spread);
    expect(summary.maxLoss).toBe(-(R(120.35) - R(70.2)) * 50);
    expect(summary.maxProfit).toBe((R(100) - (R(120.35) - R(70.2))) * 50);
    expect(summary.breakevens).toEqual([R(24000) + R(120.35) - R(70.2)]);
  });

  it("has no figures without legs", () => {
    expect(summarise([])).toEqual({ maxProfit: 0, maxLoss: 0, breakevens: [], points: [] });
  });
});
