import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { type Order, unwrap } from "../api/client";
import { ErrorText, Field } from "../components/common";
import { useApp, useServerNow } from "../context";
import { formatDateTime, istDate } from "../lib/time";
import { navigate } from "../router";
import { OrdersTable } from "./TodayPage";

const STATUSES = ["", "BUILT", "SENDING", "SENT", "UNKNOWN", "OPEN", "PARTIAL", "COMPLETE",
  "REJECTED", "CANCELLED", "FAILED", "MISSED"];

export function OrdersPage({ params }: { params: URLSearchParams }) {
  const { client } = useApp();
  const now = useServerNow();
  const date = params.get("date") ?? istDate(now);
  const status = params.get("status") ?? "";
  const [selected, setSelected] = useState<Order | null>(null);
  const orders = useQuery({
    queryKey: ["orders", date, status],
    queryFn: async () => unwrap(await client.GET("/orders", {
      params: { query: status ? { date, status } : { date } } })),
    refetchInterval: 5_000,
  });
  const go = (next: { date?: string; status?: string }) => {
    const query = new URLSearchParams({ date, status, ...next });
    if (!query.get("status")) query.delete("status");
    navigate(`/orders?${query.toString()}`);
  };
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Orders</h1>
      <form className="grid" aria-label="Filter orders" onSubmit={(e) => e.preventDefault()}>
        <Field id="orders-date" label="Date">
          <input id="orders-date" type="date" value={date} onChange={(e) => go({ date: e.target.value })} />
        </Field>
        <Field id="orders-status" label="Status">
          <select id="orders-status" value={status} onChange={(e) => go({ status: e.target.value })}>
            {STATUSES.map((s) => <option key={s} value={s}>{s || "Any"}</option>)}
          </select>
        </Field>
      </form>
      <ErrorText error={orders.error} />
      {orders.data && (
        <OrdersTable orders={orders.data.items} caption={`Orders on ${orders.data.date}`} onSelect={setSelected} />
      )}
      {orders.data?.items.length === 0 && <p>No orders.</p>}
      {selected && (
        <section aria-labelledby="history-title" className="card">
          <h2 id="history-title">Order {selected.tag}: history</h2>
          <p>Scheduled {formatDateTime(selected.scheduled_at)}; broker id {selected.broker_order_id ?? "-"}</p>
          {selected.error != null && <p className="error">{JSON.stringify(selected.error)}</p>}
          <ol>
            {(selected.history ?? []).map((h, i) => {
              const step = h as { status?: string; state?: string; at?: string; reason?: string };
              return (
                <li key={i}>{step.at ? formatDateTime(step.at) : ""} {step.status ?? step.state ?? JSON.stringify(h)}
                  {step.reason ? ` (${step.reason})` : ""}</li>
              );
            })}
          </ol>
          <button type="button" className="secondary" onClick={() => setSelected(null)}>Close history</button>
        </section>
      )}
    </section>
  );
}
