import { useMutation, useQuery } from "@tanstack/react-query";
import { type Order, unwrap } from "../api/client";
import { ErrorText, Status, Scroll } from "../components/common";
import { useApp, useServerNow } from "../context";
import { formatNumber, formatRupees } from "../lib/money";
import { countdown, formatClock, istDate, istInstant, lateness } from "../lib/time";

export function TodayPage() {
  const { client } = useApp();
  const now = useServerNow();
  const day = istDate(now);
  const schedule = useQuery({
    queryKey: ["schedule", day],
    queryFn: async () => unwrap(await client.GET("/schedule", { params: { query: { date: day } } })),
    refetchInterval: 30_000,
  });
  const readiness = useQuery({
    queryKey: ["readiness"],
    queryFn: async () => unwrap(await client.GET("/accounts/readiness")).items,
    refetchInterval: 60_000,
  });
  const executions = useQuery({
    queryKey: ["executions", day],
    queryFn: async () => unwrap(await client.GET("/executions", { params: { query: { date: day } } })).items,
    refetchInterval: 2_000,
  });
  const login = useMutation({
    mutationFn: async (accountId: string) => unwrap(await client.GET("/accounts/{account_id}/login", {
      params: { path: { account_id: accountId } } })),
    onSuccess: (answer) => window.location.assign(answer.url),
  });
  const items = schedule.data?.items ?? [];
  const next = items
    .map((i) => ({ ...i, at: istInstant(day, i.time) }))
    .find((i) => i.at.getTime() > now.getTime());
  const needLogin = (readiness.data ?? []).filter((r) => !r.usable_today);
  return (
    <section aria-labelledby="today-title">
      <h1 id="today-title">Today, {day}</h1>
      {needLogin.length > 0 && (
        <div className="banner" role="status">
          <p>{needLogin.length === 1 ? "1 account needs" : `${needLogin.length} accounts need`} today's login.</p>
          <ul>
            {needLogin.map((r) => (
              <li key={r.account_id}>
                {r.label} ({r.broker}){r.action ? `: ${r.action}` : ""}{" "}
                <button type="button" onClick={() => login.mutate(r.account_id)}>
                  Log in<span className="sr"> to {r.label}</span>
                </button>
              </li>
            ))}
          </ul>
          <ErrorText error={login.error} />
        </div>
      )}
      {readiness.data && needLogin.length === 0 && readiness.data.length > 0 && (
        <p className="notice">
          {readiness.data.length === 1 ? "Your account is" : `All ${readiness.data.length} accounts are`}{" "}
          ready for today.
        </p>
      )}
      <h2>Timeline</h2>
      <ErrorText error={schedule.error} />
      {schedule.data && !schedule.data.trading_day && (
        <p>Not a trading day: {schedule.data.reason ?? "market closed"}.</p>
      )}
      {next && (
        <p className="countdown" aria-live="off">
          Next: {next.phase.toLowerCase()} at {next.time} IST, in{" "}
          <strong data-testid="countdown">{countdown(next.at, now)}</strong>
        </p>
      )}
      <ol className="timeline">
        {items.map((i) => {
          const at = istInstant(day, i.time);
          return (
            <li key={`${i.strategy_id}-${i.phase}`} className={at < now ? "past" : ""}>
              <time dateTime={at.toISOString()}>{i.time}</time> {i.phase}{" "}
              {i.underlying ?? ""} <a href={`#/builder/${i.strategy_id}`}>strategy</a>
            </li>
          );
        })}
      </ol>
      {items.length === 0 && schedule.data?.trading_day && <p>Nothing scheduled today.</p>}
      <h2>Executions</h2>
      <ErrorText error={executions.error} />
      {executions.data?.length === 0 && <p>No executions yet today.</p>}
      {executions.data?.map((e) => <ExecutionCard key={e.id} id={e.id} />)}
    </section>
  );
}

function ExecutionCard({ id }: { id: string }) {
  const { client } = useApp();
  const detail = useQuery({
    queryKey: ["execution", id],
    queryFn: async () => unwrap(await client.GET("/executions/{execution}", {
      params: { path: { execution: id } } })),
    refetchInterval: 2_000,
  });
  const e = detail.data;
  if (!e) return <ErrorText error={detail.error} />;
  return (
    <article className="card execution" aria-label={`${e.phase} execution`}>
      <h3>{e.phase} at {e.slot ? formatClock(e.slot) : "-"} <Status value={e.status} /></h3>
      <OrdersTable orders={e.orders} caption={`${e.phase} orders`} />
    </article>
  );
}

export function OrdersTable({ orders, caption, onSelect }:
  { orders: Order[]; caption: string; onSelect?: (order: Order) => void }) {
  return (
    <Scroll label={caption}>
      <table className="list">
        <caption>{caption}</caption>
        <thead><tr><th scope="col">Side</th><th scope="col">Contract</th><th scope="col">Qty</th>
          <th scope="col">Limit</th><th scope="col">Sent</th><th scope="col">State</th>
          <th scope="col">Filled</th><th scope="col">Broker id</th></tr></thead>
        <tbody>
          {orders.map((o) => {
            const c = o.contract as { expiry?: string; strike?: string; option_type?: string };
            return (
              <tr key={o.id}>
                <td>{o.side}</td>
                <td>{onSelect
                  ? <button type="button" className="link" onClick={() => onSelect(o)}>
                    {c.strike} {c.option_type} {c.expiry}</button>
                  : <>{c.strike} {c.option_type} {c.expiry}</>}</td>
                <td>{formatNumber(o.quantity)}</td>
                <td>{formatRupees(o.limit_price)}</td>
                <td>{o.sent_at ? `${formatClock(o.sent_at)} (${lateness(o.scheduled_at, o.sent_at)})` : "-"}</td>
                <td><Status value={o.status} /></td>
                <td>{o.filled_quantity ? `${formatNumber(o.filled_quantity)} @ ${formatRupees(o.average_price)}` : "-"}</td>
                <td>{o.broker_order_id ?? "-"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Scroll>
  );
}
