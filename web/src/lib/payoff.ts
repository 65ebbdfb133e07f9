/**
 * Payoff at expiry of a multi-leg option position, in integer paise.
 *
 * Each leg pays its intrinsic value at expiry minus (BUY) or plus (SELL) the premium, times its
 * quantity in units. The total is piecewise linear with kinks only at strikes, so its extremes
 * are at a strike or in a tail, and its breakevens lie between adjacent kinks: exact, no sampling.
 */

export type Side = "BUY" | "SELL";
export type OptionType = "CE" | "PE";

export interface PayoffLeg {
  side: Side;
  optionType: OptionType;
  /** strike in paise */
  strike: number;
  /** premium per unit in paise */
  premium: number;
  /** units (lots x lot size x multiplier) */
  quantity: number;
}

export interface PayoffSummary {
  /** in paise; null when unlimited */
  maxProfit: number | null;
  /** in paise, as a negative number; null when unlimited */
  maxLoss: number | null;
  /** underlying prices in paise where the payoff crosses zero, ascending */
  breakevens: number[];
  /** the kink points (and the two ends) to draw the chart through */
  points: { spot: number; pnl: number }[];
}

/** Payoff in paise of all legs with the underlying at `spot` (paise) at expiry. */
export function payoffAt(legs: PayoffLeg[], spot: number): number {
  let total = 0;
  for (const leg of legs) {
    const intrinsic =
      leg.optionType === "CE" ? Math.max(spot - leg.strike, 0) : Math.max(leg.strike - spot, 0);
    const perUnit = leg.side === "BUY" ? intrinsic - leg.premium : leg.premium - intrinsic;
    total += perUnit * leg.quantity;
  }
  return total;
}

/** Slope of the payoff (paise per paise of spot) above every strike: the right tail. */
function rightSlope(legs: PayoffLeg[]): number {
  return legs
    .filter((leg) => leg.optionType === "CE")
    .reduce((slope, leg) => slope + (leg.side === "BUY" ? 1 : -1) * leg.quantity, 0);
}

export function summarise(legs: PayoffLeg[], margin = 0.03): PayoffSummary {
  if (legs.length === 0) return { maxProfit: 0, maxLoss: 0, breakevens: [], points: [] };
  const strikes = [...new Set(legs.map((leg) => leg.strike))].sort((a, b) => a - b);
  const low = strikes[0] ?? 0;
  const high = strikes[strikes.length - 1] ?? 0;
  const span = Math.max(high - low, Math.round(high * margin));
  const left = Math.max(0, low - span);
  const right = high + span;
  const kinks = [0, left, ...strikes, right].filter((v, i, all) => all.indexOf(v) === i);
  kinks.sort((a, b) => a - b);
  const values = kinks.map((spot) => ({ spot, pnl: payoffAt(legs, spot) }));
  const slope = rightSlope(legs);

  const all = values.map((v) => v.pnl);
  const maxProfit = slope > 0 ? null : Math.max(...all);
  const lowest = Math.min(...all);
  const maxLoss = slope < 0 ? null : Math.min(lowest, 0);

  const breakevens: number[] = [];
  for (let i = 1; i < values.length; i += 1) {
    const a = values[i - 1];
    const b = values[i];
    if (!a || !b) continue;
    if (a.pnl === 0 && i === 1) breakevens.push(a.spot);
    if ((a.pnl < 0 && b.pnl > 0) || (a.pnl > 0 && b.pnl < 0)) {
      breakevens.push(Math.round(a.spot + ((b.spot - a.spot) * -a.pnl) / (b.pnl - a.pnl)));
    } else if (b.pnl === 0 && a.pnl !== 0) {
      breakevens.push(b.spot);
    }
  }
  const last = values[values.length - 1];
  if (last && slope !== 0 && Math.sign(last.pnl) === -Math.sign(slope) && last.pnl !== 0) {
    breakevens.push(Math.round(last.spot - last.pnl / slope));
  }
  const points = values.filter((v) => v.spot >= left);
  if (last && breakevens.length && (breakevens[breakevens.length - 1] ?? 0) > last.spot) {
    const beyond = breakevens[breakevens.length - 1] ?? 0;
    points.push({ spot: beyond + span / 4, pnl: payoffAt(legs, beyond + span / 4) });
  }
  return { maxProfit, maxLoss, breakevens, points };
}
