/**
 * Payoff at expiry drawn as SVG by hand: the curve is a polyline through the kinks, so a chart
 * library (50-150 KB) would buy nothing. Figures are also given as text for screen readers.
 */
import { formatPaise } from "../lib/money";
import type { PayoffSummary } from "../lib/payoff";

const W = 640;
const H = 240;
const PAD = 36;

export function PayoffChart({ summary, spot }: { summary: PayoffSummary; spot: number | null }) {
  const points = summary.points;
  if (points.length < 2) return <p>No priced legs to draw.</p>;
  const xs = points.map((p) => p.spot);
  const ys = points.map((p) => p.pnl).concat(0);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const x = (v: number) => PAD + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * PAD);
  const y = (v: number) => H - PAD - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * PAD);
  const line = points.map((p) => `${x(p.spot).toFixed(1)},${y(p.pnl).toFixed(1)}`).join(" ");
  const rupees = (paise: number) => formatPaise(paise).replace(/\.\d\d$/, "");
  return (
    <figure className="payoff">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="payoff-title payoff-desc">
        <title id="payoff-title">Payoff at expiry</title>
        <desc id="payoff-desc">
          Profit or loss of the position at expiry against the underlying's price.
        </desc>
        <line x1={PAD} x2={W - PAD} y1={y(0)} y2={y(0)} className="axis" />
        <polyline points={line} className="curve" fill="none" />
        {summary.breakevens.map((b) => (
          <g key={b}>
            <line x1={x(b)} x2={x(b)} y1={PAD / 2} y2={H - PAD} className="breakeven" />
            <text x={x(b)} y={H - 8} textAnchor="middle">{rupees(b).replace("Rs ", "")}</text>
          </g>
        ))}
        {spot !== null && spot >= x0 && spot <= x1 && (
          <line x1={x(spot)} x2={x(spot)} y1={PAD / 2} y2={H - PAD} className="spot" />
        )}
        <text x={4} y={y(y1) - 8}>{rupees(y1)}</text>
        <text x={4} y={y(y0) + 16}>{rupees(y0)}</text>
      </svg>
      <figcaption>
        <dl className="figures">
          <div><dt>Max profit</dt><dd>{summary.maxProfit === null ? "Unlimited" : formatPaise(summary.maxProfit)}</dd></div>
          <div><dt>Max loss</dt><dd>{summary.maxLoss === null ? "Unlimited" : formatPaise(summary.maxLoss)}</dd></div>
          <div><dt>Breakevens</dt><dd>{summary.breakevens.length
            ? summary.breakevens.map((b) => formatPaise(b).replace("Rs ", "")).join(", ") : "None"}</dd></div>
        </dl>
      </figcaption>
    </figure>
  );
}
