import { useQuery } from "@tanstack/react-query";
import { unwrap } from "../api/client";
import { ErrorText, Money, Scroll } from "../components/common";
import { useApp, useServerNow } from "../context";
import { formatNumber, formatRupees } from "../lib/money";
import { formatClock, istDate, istWeekday } from "../lib/time";

/** The F&O session on a weekday (holidays aside: the API's figures say what the day was). */
function marketOpen(now: Date): boolean {
  if (["SAT", "SUN"].includes(istWeekday(now))) return false;
  const clock = formatClock(now).slice(0, 8);
  return clock >= "09:15:00" && clock <= "15:40:00";
}

export function PositionsPage() {
  const { client, clockOffset } = useApp();
  const now = useServerNow();
  const day = istDate(now);
  const open = marketOpen(now);
  const pnl = useQuery({
    queryKey: ["pnl", day],
    queryFn: async () => unwrap(await client.GET("/pnl", { params: { query: { date: day } } })),
    refetchInterval: open ? 2_000 : false,
  });
  const risk = useQuery({
    queryKey: ["risk", day],
    queryFn: async () => unwrap(await client.GET("/risk", { params: { query: { date: day } } })),
    refetchInterval: open ? 5_000 : false,
  });
  const p = pnl.data;
  const riskItems = ((risk.data as { items?: { strategy_id: string; events?: RiskEvent[] }[] } | undefined)
    ?.items ?? []);
  return (
    <section aria-labelledby="positions-title">
      <h1 id="positions-title">Positions and P&amp;L</h1>
      <p className="muted">
        {open ? "Market open: refreshing every 2 s." : "Market closed: not refreshing."}
        {pnl.dataUpdatedAt ? ` Updated ${formatClock(new Date(pnl.dataUpdatedAt + clockOffset.current))}.` : ""}
      </p>
      <ErrorText error={pnl.error} />
      {p && (
        <>
          <dl className="figures big">
            <div><dt>Realised</dt><dd><Money value={p.realised} /></dd></div>
            <div><dt>Unrealised</dt><dd><Money value={p.unrealised} /></dd></div>
            <div><dt>Total</dt><dd data-testid="pnl-total"><Money value={p.total} /></dd></div>
          </dl>
          <p className="source">
            Price source: <strong>{p.prices.source}</strong>{p.prices.live ? " (live)" : " (not live)"}
            {p.prices.note ? ` · ${p.prices.note}` : ""}
          </p>
          {p.unpriced.length > 0 && <p className="error">No price for: {p.unpriced.join(", ")}</p>}
          <Scroll label={`Positions traded on ${p.date}`}>
            <table className="list">
              <caption>Positions traded on {p.date}</caption>
              <thead><tr><th scope="col">Symbol</th><th scope="col">Account</th><th scope="col">Net</th>
                <th scope="col">Buy avg</th><th scope="col">Sell avg</th><th scope="col">LTP</th>
                <th scope="col">Realised</th><th scope="col">Unrealised</th></tr></thead>
              <tbody>
                {p.positions.map((x) => (
                  <tr key={`${x.strategy_id}-${x.account_id}-${x.symbol}`}>
                    <td>{x.symbol}</td>
                    <td>{x.account_id.slice(0, 6)}</td>
                    <td>{formatNumber(x.net_quantity)}</td>
                    <td>{formatRupees(x.buy_average)}</td>
                    <td>{formatRupees(x.sell_average)}</td>
                    <td>{formatRupees(x.ltp)}</td>
                    <td><Money value={x.realised} /></td>
                    <td><Money value={x.unrealised} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
          {p.positions.length === 0 && <p>No positions traded today.</p>}
        </>
      )}
      <h2>Risk events</h2>
      <ErrorText error={risk.error} />
      <ul className="events">
        {riskItems.flatMap((book) => (book.events ?? []).map((e, i) => (
          <li key={`${book.strategy_id}-${i}`}>
            {e.at ? formatClock(e.at) : ""} {e.kind.replace(/_/g, " ")}
            {e.price ? ` at ${formatRupees(e.price)}` : ""}{e.reason ? ` (${e.reason})` : ""}
          </li>
        )))}
      </ul>
      {riskItems.every((b) => !b.events?.length) && <p>No risk events today.</p>}
    </section>
  );
}

interface RiskEvent {
  kind: string;
  at?: string;
  price?: string;
  reason?: string;
}
