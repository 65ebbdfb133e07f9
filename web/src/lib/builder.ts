/**
 * The strategy builder's logic, free of React: the form's model, the templates, the request body
 * it becomes (typed by the API's generated schema) and where a server error's `field` path lands.
 */
import type { components } from "../api/schema";
import { toPaise } from "./money";
import type { PayoffLeg } from "./payoff";

type S = components["schemas"];
export type StrategyBody = S["StrategyIn"];
export type Side = S["Side"];
export type OptionType = S["OptionType"];
export type StrikeMethod = S["StrikeMethod"];
export type Weekday = S["Weekday"];
export type RiskUnit = S["RiskUnit"];

export const WEEKDAYS: Weekday[] = ["MON", "TUE", "WED", "THU", "FRI"];
export const UNDERLYINGS: S["Underlying"][] = [
  "NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "SENSEX",
];
export const EXPIRIES: S["ExpiryChoice"][] = [
  "current_week", "next_week", "current_month", "next_month",
];
export const STRIKE_METHODS: StrikeMethod[] = [
  "ATM_OFFSET", "ATM_PERCENT", "CLOSEST_PREMIUM", "PREMIUM_GTE", "PREMIUM_LTE",
  "STRADDLE_PERCENT", "DELTA", "EXACT",
];

export interface LevelForm {
  type: RiskUnit;
  value: string;
}

/** Wait and trade: enter the leg only once its premium moved this far from the entry time's. */
export interface WaitForm {
  direction: S["WaitDirection"];
  type: S["WaitUnit"];
  value: string;
  until: string;
}

/** A move of the underlying index from its level at entry (points or % of it). */
export interface UnderlyingLevelForm {
  type: S["UnderlyingLevelIn"]["type"];
  value: string;
}

export interface LegForm {
  side: Side;
  optionType: OptionType;
  method: StrikeMethod;
  value: string;
  lots: number;
  stopLoss: LevelForm | null;
  target: LevelForm | null;
  trailing: { every: string; by: string } | null;
  reEntry: S["ReEntryMode"] | null;
  /** a saved re-entry's count and triggers (no control yet), kept when the mode is kept */
  reEntryRest?: Record<string, unknown>;
  /** per-leg allocations replacing the strategy's; empty = use the strategy's */
  allocations: AllocationForm[];
  /** wait and trade; null or an empty value: the leg enters at the entry time */
  wait?: WaitForm | null;
  /** fields of a saved leg the form has no control for, sent back unchanged */
  extra?: Record<string, unknown>;
}

export interface AllocationForm {
  accountId: string;
  multiplier: string;
}

export interface StrategyForm {
  name: string;
  basketId: string;
  underlying: S["Underlying"];
  expiry: S["ExpiryChoice"];
  product: S["Product"];
  entryTime: string;
  days: Weekday[];
  exitTime: string;
  allocations: AllocationForm[];
  legs: LegForm[];
  mtmStopLoss: string;
  mtmTarget: string;
  onLegFailure: S["OnLegFailure"];
  /** days to expiry the entry runs on, "0, 1" (empty: every entry day) */
  dte?: string;
  underlyingStopLoss?: UnderlyingLevelForm | null;
  underlyingTarget?: UnderlyingLevelForm | null;
  /** ask each account's broker for the basket margin before the entry (risk.margin_check) */
  marginCheck: boolean;
  /** fields of a saved strategy (and its risk) the form has no control for, sent back unchanged */
  extra?: Record<string, unknown>;
  riskExtra?: Record<string, unknown>;
  /** the exit's own days when a saved strategy has them (no control yet) */
  exitDays?: Weekday[];
}

/** What a stored strategy carries that is not part of its input (StrategyIn refuses them). */
const STORED_ONLY = ["id", "status", "version", "created_at", "updated_at"];
const FORM_TOP = ["basket_id", "name", "underlying", "expiry", "product", "entry", "exit",
  "allocations", "legs", "risk"];
const FORM_LEG = ["side", "option_type", "strike", "lots", "stop_loss", "target", "trailing",
  "re_entry", "allocations", "wait_and_trade"];
const FORM_RISK = ["mtm_stop_loss", "mtm_target", "on_leg_failure", "underlying_stop_loss",
  "underlying_target", "margin_check"];

export const RE_ENTRY_MODES: { mode: S["ReEntryMode"]; label: string }[] = [
  { mode: "RE_ASAP", label: "As soon as possible" },
  { mode: "RE_COST", label: "At cost" },
  { mode: "RE_EXECUTE", label: "Re-execute (strike chosen again)" },
];

/** "0, 1" -> [0, 1]; empty -> null (every entry day). A word the server refuses by position. */
export function parseDte(text: string | undefined): number[] | null {
  const parts = (text ?? "").split(/[\s,]+/).filter(Boolean);
  return parts.length ? parts.map((p) => (/^\d+$/.test(p) ? Number(p) : (p as unknown as number))) : null;
}

const underlyingLevel = (form: UnderlyingLevelForm | null | undefined) =>
  form && form.value.trim() ? { type: form.type, value: form.value.trim() } : null;

function omit(source: object | null | undefined, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(source ?? {}).filter(([k]) => !keys.includes(k)));
}

export type TemplateName =
  | "iron_condor" | "short_straddle" | "short_strangle" | "bull_call_spread" | "bear_put_spread";

export const TEMPLATES: { name: TemplateName; label: string }[] = [
  { name: "iron_condor", label: "Iron condor" },
  { name: "short_straddle", label: "Short straddle" },
  { name: "short_strangle", label: "Short strangle" },
  { name: "bull_call_spread", label: "Bull call spread" },
  { name: "bear_put_spread", label: "Bear put spread" },
];

export function leg(side: Side, optionType: OptionType, offset: number, lots = 1): LegForm {
  return {
    side, optionType, method: "ATM_OFFSET", value: String(offset), lots,
    stopLoss: null, target: null, trailing: null, reEntry: null, allocations: [],
  };
}

/** Legs of a template; wings (BUY) first so hedges are bought before shorts are sold. */
export function templateLegs(name: TemplateName): LegForm[] {
  switch (name) {
    case "iron_condor":
      return [leg("BUY", "CE", 6), leg("BUY", "PE", 6), leg("SELL", "CE", 2), leg("SELL", "PE", 2)];
    case "short_straddle":
      return [leg("SELL", "CE", 0), leg("SELL", "PE", 0)];
    case "short_strangle":
      return [leg("SELL", "CE", 3), leg("SELL", "PE", 3)];
    case "bull_call_spread":
      return [leg("BUY", "CE", 0), leg("SELL", "CE", 2)];
    case "bear_put_spread":
      return [leg("BUY", "PE", 0), leg("SELL", "PE", 2)];
  }
}

export function emptyForm(basketId: string, accounts: string[], today: Weekday): StrategyForm {
  return {
    name: "", basketId, underlying: "NIFTY", expiry: "current_week", product: "MIS",
    entryTime: "09:20:00", days: [today], exitTime: "15:15:00",
    allocations: accounts.slice(0, 1).map((accountId) => ({ accountId, multiplier: "1" })),
    legs: templateLegs("iron_condor"), mtmStopLoss: "", mtmTarget: "", onLegFailure: "UNWIND",
    dte: "", underlyingStopLoss: null, underlyingTarget: null,
    marginCheck: true,
  };
}

export function applyTemplate(form: StrategyForm, name: TemplateName): StrategyForm {
  const label = TEMPLATES.find((t) => t.name === name)?.label ?? name;
  return { ...form, legs: templateLegs(name), name: `${form.underlying} ${label.toLowerCase()}` };
}

/** "9:20" -> "09:20:00"; the API wants IST HH:MM:SS. */
export function normaliseClock(value: string): string {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (!match) return value.trim();
  const [, h = "0", m = "00", s = "00"] = match;
  return `${h.padStart(2, "0")}:${m}:${s}`;
}

const strikeValue = (method: StrikeMethod, value: string): number | string =>
  method === "ATM_OFFSET" && /^-?\d+$/.test(value.trim()) ? Number(value) : value.trim();

const level = (form: LevelForm | null) => (form && form.value.trim() ? form : null);

/** The leg's wait-and-trade rule as the API wants it; none without a move. */
export function waitRule(form: WaitForm | null | undefined): S["WaitAndTradeIn"] | null {
  if (!form || !form.value.trim()) return null;
  return { direction: form.direction, type: form.type, value: form.value.trim(),
    until: normaliseClock(form.until ?? "") };
}

export const WAIT_DIRECTIONS: { direction: S["WaitDirection"]; label: string }[] = [
  { direction: "UP", label: "Premium rises" },
  { direction: "DOWN", label: "Premium falls" },
];

/** The form as the API's StrategyIn body. */
export function toRequest(form: StrategyForm): StrategyBody {
  const dte = parseDte(form.dte);
  const underlyingStop = underlyingLevel(form.underlyingStopLoss);
  const underlyingTarget = underlyingLevel(form.underlyingTarget);
  const body: StrategyBody = {
    ...(form.extra as Partial<StrategyBody>),
    basket_id: form.basketId,
    name: form.name.trim(),
    underlying: form.underlying,
    expiry: form.expiry,
    product: form.product,
    entry: { time: normaliseClock(form.entryTime), days: form.days, ...(dte ? { dte } : {}) },
    exit: { ...(form.exitDays ? { days: form.exitDays } : {}), time: normaliseClock(form.exitTime) },
    allocations: form.allocations.map((a) => ({ account_id: a.accountId, multiplier: a.multiplier })),
    legs: form.legs.map((l) => ({
      ...(l.extra as Partial<StrategyBody["legs"][number]>),
      ...(waitRule(l.wait) ? { wait_and_trade: waitRule(l.wait) } : {}),
      side: l.side,
      option_type: l.optionType,
      strike: { method: l.method, value: strikeValue(l.method, l.value) },
      lots: l.lots,
      stop_loss: level(l.stopLoss),
      target: level(l.target),
      trailing: l.trailing && (l.trailing.every.trim() || l.trailing.by.trim()) ? l.trailing : null,
      re_entry: l.reEntry ? { ...l.reEntryRest, mode: l.reEntry } : null,
      allocations: l.allocations.length
        ? l.allocations.map((a) => ({ account_id: a.accountId, multiplier: a.multiplier }))
        : null,
    })),
    risk: {
      ...(form.riskExtra as Partial<NonNullable<StrategyBody["risk"]>>),
      mtm_stop_loss: form.mtmStopLoss.trim() || null,
      mtm_target: form.mtmTarget.trim() || null,
      on_leg_failure: form.onLegFailure,
      ...(underlyingStop ? { underlying_stop_loss: underlyingStop } : {}),
      ...(underlyingTarget ? { underlying_target: underlyingTarget } : {}),
      margin_check: form.marginCheck,
    },
  };
  return body;
}

/** A saved strategy (GET /strategies/{id}) back into the form. */
export function fromStrategy(strategy: components["schemas"]["StrategyIn"] & { id?: string }):
  StrategyForm {
  const allocation = (a: { account_id: string; multiplier?: number | string }) => ({
    accountId: a.account_id, multiplier: String(a.multiplier ?? 1),
  });
  const levelOf = (value: unknown): LevelForm | null => {
    if (!value || typeof value !== "object") return null;
    const v = value as { type: RiskUnit; value: number | string };
    return { type: v.type, value: String(v.value) };
  };
  return {
    name: strategy.name,
    basketId: strategy.basket_id,
    underlying: strategy.underlying,
    expiry: strategy.expiry,
    product: strategy.product,
    entryTime: strategy.entry.time,
    days: strategy.entry.days,
    exitTime: strategy.exit.time,
    allocations: (strategy.allocations ?? []).map(allocation),
    legs: strategy.legs.map((l) => ({
      side: l.side,
      optionType: l.option_type,
      method: l.strike.method,
      value: String(l.strike.value ?? ""),
      lots: l.lots,
      stopLoss: levelOf(l.stop_loss),
      target: levelOf(l.target),
      trailing: l.trailing ? { every: String(l.trailing.every), by: String(l.trailing.by) } : null,
      reEntry: l.re_entry?.mode ?? null,
      reEntryRest: omit(l.re_entry, ["mode"]),
      allocations: (l.allocations ?? []).map(allocation),
      wait: l.wait_and_trade
        ? { direction: l.wait_and_trade.direction, type: l.wait_and_trade.type,
            value: String(l.wait_and_trade.value), until: l.wait_and_trade.until ?? "" }
        : null,
      extra: omit(l, FORM_LEG),
    })),
    mtmStopLoss: strategy.risk?.mtm_stop_loss ? String(strategy.risk.mtm_stop_loss) : "",
    mtmTarget: strategy.risk?.mtm_target ? String(strategy.risk.mtm_target) : "",
    onLegFailure: strategy.risk?.on_leg_failure ?? "UNWIND",
    dte: (strategy.entry.dte ?? []).join(", "),
    underlyingStopLoss: underlyingOf(strategy.risk?.underlying_stop_loss),
    underlyingTarget: underlyingOf(strategy.risk?.underlying_target),
    marginCheck: strategy.risk?.margin_check ?? true,
    extra: omit(strategy, [...STORED_ONLY, ...FORM_TOP]),
    exitDays: strategy.exit.days ?? undefined,
    riskExtra: omit(strategy.risk, FORM_RISK),
  };
}

function underlyingOf(value: S["UnderlyingLevelIn"] | null | undefined): UnderlyingLevelForm | null {
  return value ? { type: value.type, value: String(value.value) } : null;
}

/**
 * The form control a server error's `field` path belongs to: the path itself when a control has
 * that id, else its nearest parent (`legs[2].strike.value` -> `legs[2].strike` -> `legs[2]`).
 */
export function fieldTarget(path: string | null | undefined, known: ReadonlySet<string>): string {
  let current = path ?? "";
  while (current) {
    if (known.has(current)) return current;
    const cut = Math.max(current.lastIndexOf("."), current.lastIndexOf("["));
    current = cut > 0 ? current.slice(0, cut) : "";
  }
  return "form";
}

/** Every field path the builder renders a control (and an error slot) for. */
export function fieldPaths(form: StrategyForm): Set<string> {
  const paths = new Set([
    "name", "basket_id", "underlying", "expiry", "product", "entry.time", "entry.days",
    "exit.time", "allocations", "legs", "risk.mtm_stop_loss", "risk.mtm_target",
    "risk.on_leg_failure", "entry.dte", "risk.underlying_stop_loss", "risk.underlying_target",
    "risk.margin_check",
  ]);
  form.allocations.forEach((_, i) => {
    paths.add(`allocations[${i}].multiplier`);
    paths.add(`allocations[${i}].account_id`);
  });
  form.legs.forEach((_, i) => {
    for (const part of ["side", "option_type", "strike.method", "strike.value", "lots",
      "stop_loss.value", "target.value", "trailing.every", "trailing.by", "re_entry.mode",
      "wait_and_trade.direction", "wait_and_trade.type", "wait_and_trade.value",
      "wait_and_trade.until"]) {
      paths.add(`legs[${i}].${part}`);
    }
    paths.add(`legs[${i}]`);
  });
  return paths;
}

/** A DOM id for a field path (ids cannot hold brackets and dots comfortably). */
export const fieldId = (path: string): string => `f-${path.replace(/[[\].]+/g, "-")}`;

export interface PreviewLeg {
  side: string;
  option_type: string;
  strike?: string;
  ltp?: string;
  quantity?: number;
}

/** Preview legs (one account's, or all accounts') as payoff legs priced at their LTP. */
export function payoffLegs(legs: PreviewLeg[]): PayoffLeg[] {
  return legs.flatMap((l) =>
    l.strike && l.ltp && l.quantity
      ? [{
          side: l.side === "SELL" ? "SELL" : "BUY",
          optionType: l.option_type === "PE" ? "PE" : "CE",
          strike: toPaise(l.strike),
          premium: toPaise(l.ltp),
          quantity: l.quantity,
        } as PayoffLeg]
      : [],
  );
}
