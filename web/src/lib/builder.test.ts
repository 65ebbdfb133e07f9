import { describe, expect, it } from "vitest";
import {
  RE_ENTRY_MODES, WAIT_DIRECTIONS, applyTemplate, emptyForm, fieldId, fieldPaths, fieldTarget, fromStrategy,
  normaliseClock, parseDte, payoffLegs, templateLegs, toRequest,
} from "./builder";

describe("strategy builder", () => {
  it("builds an iron condor with wings bought before shorts are sold", () => {
    const legs = templateLegs("iron_condor");
    expect(legs.map((l) => `${l.side} ${l.optionType} ${l.value}`)).toEqual([
      "BUY CE 6", "BUY PE 6", "SELL CE 2", "SELL PE 2",
    ]);
    expect(templateLegs("short_straddle").every((l) => l.value === "0" && l.side === "SELL"))
      .toBe(true);
  });

  it("turns the form into the API's StrategyIn body", () => {
    let form = applyTemplate(emptyForm("B1", ["A1", "A2"], "TUE"), "short_strangle");
    form = { ...form, entryTime: "9:20", exitTime: "15:15", mtmStopLoss: "5000" };
    const [first, second] = form.legs;
    if (!first || !second) throw new Error("a strangle has two legs");
    form.legs = [
      { ...first, stopLoss: { type: "PERCENT", value: "30" }, trailing: { every: "10", by: "5" },
        reEntry: "RE_COST" },
      { ...second, allocations: [{ accountId: "A2", multiplier: "2" }] },
    ];
    const body = toRequest(form);
    expect(body.name).toBe("NIFTY short strangle");
    expect(body.entry).toEqual({ time: "09:20:00", days: ["TUE"] });
    expect(body.exit).toEqual({ time: "15:15:00" });
    expect(body.allocations).toEqual([{ account_id: "A1", multiplier: "1" }]);
    expect(body.legs[0]?.strike).toEqual({ method: "ATM_OFFSET", value: 3 });
    expect(body.legs[0]?.stop_loss).toEqual({ type: "PERCENT", value: "30" });
    expect(body.legs[1]?.stop_loss).toBeNull();
    expect(body.legs[0]?.trailing).toEqual({ every: "10", by: "5" });
    expect(body.legs[0]?.re_entry).toEqual({ mode: "RE_COST" });
    expect(body.legs[1]?.trailing).toBeNull();
    expect(body.legs[1]?.allocations).toEqual([{ account_id: "A2", multiplier: "2" }]);
    expect(body.risk).toEqual({
      mtm_stop_loss: "5000", mtm_target: null, on_leg_failure: "UNWIND", margin_check: true,
    });
    expect(toRequest({ ...form, marginCheck: false }).risk?.margin_check).toBe(false);
  });

  it("round-trips a saved strategy through the form", () => {
    const body = toRequest(applyTemplate(emptyForm("B1", ["A1"], "MON"), "iron_condor"));
    const again = toRequest(fromStrategy(body));
    expect(again).toEqual({ ...body, legs: body.legs.map((l) => ({ ...l })) });
  });

  it("sends back what a saved strategy holds beyond the form's controls", () => {
    const body = toRequest(applyTemplate(emptyForm("B1", ["A1"], "MON"), "short_straddle"));
    const saved = {
      ...body, id: "S1", status: "ACTIVE", version: 3, created_at: "x", updated_at: "y",
      max_entry_delay_seconds: 10, exit: { time: "15:15:00", days: ["MON" as const] },
      legs: body.legs.map((l) => ({ ...l, wait_and_trade: { direction: "UP", type: "PERCENT", value: "5", until: "10:00:00" },
        re_entry: { mode: "RE_ASAP", max_count: 3, on: ["TARGET"] } })),
      risk: { ...body.risk, move_sl_to_cost: true },
    };
    const again = toRequest(fromStrategy(saved as unknown as typeof body));
    expect(again).not.toHaveProperty("id");
    expect(again).not.toHaveProperty("version");
    expect(again.max_entry_delay_seconds).toBe(10);
    expect(again.exit).toEqual({ days: ["MON"], time: "15:15:00" });
    expect(again.legs[0]).toHaveProperty("wait_and_trade");
    expect(again.legs[0]?.re_entry).toEqual({ mode: "RE_ASAP", max_count: 3, on: ["TARGET"] });
    expect(again.risk?.move_sl_to_cost).toBe(true);
    expect(fromStrategy({ ...body, risk: { ...body.risk, margin_check: false } }).marginCheck)
      .toBe(false);
    expect(fromStrategy({ ...body, risk: undefined }).marginCheck).toBe(true); // default on
  });

  it("puts a server error at its field, or at the nearest control above it", () => {
    const form = emptyForm("B1", ["A1"], "MON");
    const known = fieldPaths(form);
    expect(fieldTarget("legs[2].strike.value", known)).toBe("legs[2].strike.value");
    expect(fieldTarget("legs[2].strike", known)).toBe("legs[2]");
    expect(fieldTarget("legs[1].trailing.by", known)).toBe("legs[1].trailing.by");
    expect(fieldTarget("legs[1].re_entry.max_count", known)).toBe("legs[1]");
    expect(fieldTarget("legs[9].lots", known)).toBe("legs");
    expect(fieldTarget("entry.time", known)).toBe("entry.time");
    expect(fieldTarget(null, known)).toBe("form");
    expect(fieldTarget("nonsense", known)).toBe("form");
    expect(fieldId("legs[2].strike.value")).toBe("f-legs-2-strike-value");
  });

  it("normalises clock times to HH:MM:SS", () => {
    expect(normaliseClock("9:05")).toBe("09:05:00");
    expect(normaliseClock("09:20:30")).toBe("09:20:30");
    expect(normaliseClock("bad")).toBe("bad");
  });

  it("prices preview legs for the payoff and skips unresolved ones", () => {
    expect(payoffLegs([
      { side: "SELL", option_type: "CE", strike: "25950", ltp: "3.30", quantity: 65 },
      { side: "BUY", option_type: "PE" },
    ])).toEqual([{ side: "SELL", optionType: "CE", strike: 2595000, premium: 330, quantity: 65 }]);
  });

  it("sends the days-to-expiry filter and keeps a saved one on edit", () => {
    const form = { ...emptyForm("B1", ["A1"], "WED"), dte: "3, 0" };
    expect(toRequest(form).entry).toEqual({ time: "09:20:00", days: ["WED"], dte: [3, 0] });
    expect(toRequest({ ...form, dte: " " }).entry).toEqual({ time: "09:20:00", days: ["WED"] });
    expect(parseDte("0 1,2")).toEqual([0, 1, 2]);
    expect(parseDte("")).toBeNull();
    expect(parseDte("x")).toEqual(["x"]); // the server names entry.dte[0]
    const saved = fromStrategy({ ...toRequest(form), entry: { time: "09:20:00", days: ["WED"], dte: [0, 3] } });
    expect(saved.dte).toBe("0, 3");
    expect(toRequest(saved).entry.dte).toEqual([0, 3]);
    expect(fieldTarget("entry.dte[1]", fieldPaths(saved))).toBe("entry.dte");
  });

  it("sends underlying stop and target levels in their unit and reads them back", () => {
    const form = {
      ...emptyForm("B1", ["A1"], "MON"),
      underlyingStopLoss: { type: "POINTS" as const, value: " 150 " },
      underlyingTarget: { type: "PERCENT" as const, value: "" },
    };
    const body = toRequest(form);
    expect(body.risk?.underlying_stop_loss).toEqual({ type: "POINTS", value: "150" });
    expect(body.risk).not.toHaveProperty("underlying_target"); // empty: not set
    const back = fromStrategy({ ...body, risk: { ...body.risk,
      underlying_target: { type: "PERCENT", value: "0.8" } } });
    expect(back.underlyingStopLoss).toEqual({ type: "POINTS", value: "150" });
    expect(back.underlyingTarget).toEqual({ type: "PERCENT", value: "0.8" });
    expect(toRequest(back).risk?.underlying_target).toEqual({ type: "PERCENT", value: "0.8" });
    const known = fieldPaths(back);
    expect(fieldTarget("risk.underlying_target", known)).toBe("risk.underlying_target");
    expect(fieldTarget("risk.underlying_stop_loss.value", known)).toBe("risk.underlying_stop_loss");
  });

  it("sends a leg's wait and trade, reads it back and places its errors on its controls", () => {
    expect(WAIT_DIRECTIONS.map((d) => d.direction)).toEqual(["UP", "DOWN"]);
    const [first, second] = templateLegs("short_straddle");
    if (!first || !second) throw new Error("a straddle has two legs");
    const form = {
      ...emptyForm("B1", ["A1"], "MON"),
      legs: [{ ...first, wait: { direction: "UP" as const, type: "PERCENT" as const, value: " 10 ",
        until: "10:30" } }, { ...second, wait: { direction: "DOWN" as const, type: "POINTS" as const,
        value: "", until: "" } }],
    };
    const body = toRequest(form);
    expect(body.legs[0]?.wait_and_trade).toEqual({ direction: "UP", type: "PERCENT", value: "10",
      until: "10:30:00" });
    expect(body.legs[1]).not.toHaveProperty("wait_and_trade"); // no move: enters at T
    const back = fromStrategy(body);
    expect(back.legs[0]?.wait).toEqual({ direction: "UP", type: "PERCENT", value: "10",
      until: "10:30:00" });
    expect(back.legs[0]?.extra).toEqual({});
    expect(toRequest(back).legs[0]?.wait_and_trade).toEqual(body.legs[0]?.wait_and_trade);
    const known = fieldPaths(back);
    expect(fieldTarget("legs[0].wait_and_trade.until", known)).toBe("legs[0].wait_and_trade.until");
    expect(fieldTarget("legs[1].wait_and_trade", known)).toBe("legs[1]");
  });

  it("offers RE_EXECUTE beside RE_ASAP and RE_COST", () => {
    expect(RE_ENTRY_MODES.map((m) => m.mode)).toEqual(["RE_ASAP", "RE_COST", "RE_EXECUTE"]);
    const [first] = templateLegs("short_straddle");
    if (!first) throw new Error("a straddle has legs");
    const form = { ...emptyForm("B1", ["A1"], "MON"), legs: [{ ...first, reEntry: "RE_EXECUTE" as const }] };
    expect(toRequest(form).legs[0]?.re_entry).toEqual({ mode: "RE_EXECUTE" });
  });
});
