import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { type Account, ApiFailure, type Schemas, unwrap } from "../api/client";
import { ErrorText, Field, Status } from "../components/common";
import { useApp } from "../context";
import { dayLimitsBody, dayLimitsForm, dayLimitsText } from "../lib/dayLimits";
import { formatDateTime } from "../lib/time";

const BROKERS: Schemas["AccountIn"]["broker"][] = ["paper", "zerodha", "angelone", "upstox", "fyers", "dhan", "shoonya", "zebu"];

export function useAccounts() {
  const { client } = useApp();
  return useQuery({
    queryKey: ["accounts"],
    queryFn: async () => unwrap(await client.GET("/accounts")).items,
  });
}

/** ``focus``: an account id from a readiness message's link (`#/accounts/<id>/login`). */
export function AccountsPage({ params, focus = null }: { params: URLSearchParams; focus?: string | null }) {
  const accounts = useAccounts();
  const [editing, setEditing] = useState<string | null>(null);
  const login = params.get("login");
  const needsLogin = accounts.data?.find((a) => a.id === focus);
  const live = (accounts.data ?? []).filter((a) => a.broker !== "paper");
  return (
    <section aria-labelledby="accounts-title">
      <h1 id="accounts-title">Broker accounts</h1>
      {login && (
        <p role="status" className={login === "ok" ? "notice" : "error"}>
          {login === "ok" ? "Broker login complete: the session is stored." :
            `Broker login failed: ${params.get("reason") ?? "unknown reason"}`}
        </p>
      )}
      {needsLogin && !login && (
        <p role="status" className="warning">
          {needsLogin.label} ({needsLogin.broker}) needs a broker login today: press its
          &quot;Log in&quot; button below.
        </p>
      )}
      <p className="hint">
        Brokers accept orders only from the static IP you registered with them (SEBI, April 2026):
        note it per account. A paper account needs no login: its orders fill in the platform's paper
        book, priced from one of your live accounts (its quote source) or, locally, the simulator.
      </p>
      <ErrorText error={accounts.error} />
      <ul className="cards">
        {accounts.data?.map((a) => (
          <li key={a.id} className={a.id === focus ? "card focus" : "card"}>
            {editing === a.id
              ? <AccountForm account={a} live={live} onDone={() => setEditing(null)} />
              : <AccountCard account={a} live={live} onEdit={() => setEditing(a.id)} />}
          </li>
        ))}
      </ul>
      {accounts.data?.length === 0 && <p>No accounts yet: add a paper account to try a strategy.</p>}
      <h2>Add an account</h2>
      <AccountForm live={live} onDone={() => undefined} />
    </section>
  );
}

function AccountCard({ account: a, live, onEdit }:
  { account: Account; live: Account[]; onEdit: () => void }) {
  const { client } = useApp();
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: async () => unwrap(await client.DELETE("/accounts/{account_id}", {
      params: { path: { account_id: a.id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["accounts"] }),
  });
  const brokerLogin = useMutation({
    mutationFn: async () => unwrap(await client.GET("/accounts/{account_id}/login", {
      params: { path: { account_id: a.id } } })),
    onSuccess: (answer) => window.location.assign(answer.url),
  });
  return (
    <>
      <h3>{a.label} <span className="muted">{a.broker} · {a.client_id}</span></h3>
      <p>
        Session <Status value={a.session.status} />
        {a.session.expires_at && <> until {formatDateTime(a.session.expires_at)}</>}
      </p>
      {a.static_ip_note && <p className="muted">Static IP: {a.static_ip_note}</p>}
      {a.broker === "paper" && (
        <p className="muted">
          Prices from: {live.find((l) => l.id === a.quote_account_id)?.label ??
            (a.quote_account_id ? a.quote_account_id : "the simulated exchange (no live account chosen)")}
        </p>
      )}
      <p className="muted">{dayLimitsText(a)}</p>
      {a.day_limit_reached && (
        <p role="status" className="error">
          {a.day_limit_reached.date}: {a.day_limit_reached.message}. Squared off; entries refused
          for the day.
        </p>
      )}
      <div className="actions">
        {a.broker !== "paper" && (
          <button type="button" onClick={() => brokerLogin.mutate()}>
            Log in to {a.broker}
          </button>
        )}
        <button type="button" className="secondary" onClick={onEdit}>Edit</button>
        <button type="button" className="danger" onClick={() => {
          if (window.confirm(`Delete ${a.label}? Its strategies lose this allocation.`)) remove.mutate();
        }}>Delete</button>
      </div>
      <ErrorText error={remove.error ?? brokerLogin.error} />
    </>
  );
}

function AccountForm({ account, live, onDone }:
  { account?: Account; live: Account[]; onDone: () => void }) {
  const { client } = useApp();
  const queries = useQueryClient();
  const [broker, setBroker] = useState<Schemas["AccountIn"]["broker"]>(
    (account?.broker as Schemas["AccountIn"]["broker"] | undefined) ?? "paper");
  const [clientId, setClientId] = useState(account?.client_id ?? "");
  const [label, setLabel] = useState(account?.label ?? "");
  const [apiKey, setApiKey] = useState("");
  const [apiSecret, setApiSecret] = useState("");
  const [note, setNote] = useState(account?.static_ip_note ?? "");
  const [quoteFrom, setQuoteFrom] = useState(account?.quote_account_id ?? "");
  const [limits, setLimits] = useState(dayLimitsForm(account ?? {}));
  const prefix = account ? `edit-${account.id}` : "new";
  const save = useMutation({
    mutationFn: async () => {
      const secrets = {
        api_key: apiKey.trim() || null, api_secret: apiSecret.trim() || null,
      };
      if (account) {
        return unwrap(await client.PATCH("/accounts/{account_id}", {
          params: { path: { account_id: account.id } },
          body: {
            label, static_ip_note: note || null, version: account.version, ...secrets,
            ...(account.broker === "paper" ? { quote_account_id: quoteFrom } : {}),
            ...dayLimitsBody(limits),
          },
        }));
      }
      return unwrap(await client.POST("/accounts", {
        body: {
          broker, client_id: clientId, label, static_ip_note: note || null, ...secrets,
          ...(broker === "paper" && quoteFrom ? { quote_account_id: quoteFrom } : {}),
        },
      }));
    },
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ["accounts"] });
      if (!account) {
        setClientId(""); setLabel(""); setApiKey(""); setApiSecret(""); setNote(""); setQuoteFrom("");
      }
      onDone();
    },
  });
  const failure = save.error instanceof ApiFailure ? save.error.detail : null;
  const at = (field: string) => (failure?.field === field ? failure.message : undefined);
  const submit = (event: FormEvent) => { event.preventDefault(); save.mutate(); };
  return (
    <form onSubmit={submit} aria-label={account ? `Edit ${account.label}` : "Add an account"}
      className="grid">
      {!account && (
        <Field id={`${prefix}-broker`} label="Broker" error={at("broker")}>
          <select id={`${prefix}-broker`} value={broker} onChange={(e) => setBroker(e.target.value as Schemas["AccountIn"]["broker"])}>
            {BROKERS.map((b) => <option key={b} value={b}>{b}</option>)}
          </select>
        </Field>
      )}
      {!account && (
        <Field id={`${prefix}-client`} label="Client id" error={at("client_id")}>
          <input id={`${prefix}-client`} required value={clientId}
            onChange={(e) => setClientId(e.target.value)} />
        </Field>
      )}
      <Field id={`${prefix}-label`} label="Label" error={at("label")}>
        <input id={`${prefix}-label`} required value={label} onChange={(e) => setLabel(e.target.value)} />
      </Field>
      {broker !== "paper" && (
        <>
          <Field id={`${prefix}-key`} label={account ? "New API key (optional)" : "API key"}
            error={at("api_key")}>
            <input id={`${prefix}-key`} autoComplete="off" value={apiKey}
              onChange={(e) => setApiKey(e.target.value)} />
          </Field>
          <Field id={`${prefix}-secret`} label={account ? "New API secret (optional)" : "API secret"}
            error={at("api_secret")}>
            <input id={`${prefix}-secret`} type="password" autoComplete="off" value={apiSecret}
              onChange={(e) => setApiSecret(e.target.value)} />
          </Field>
        </>
      )}
      {broker === "paper" && (
        <Field id={`${prefix}-quotes`} label="Quote source" error={at("quote_account_id")}>
          <select id={`${prefix}-quotes`} value={quoteFrom}
            onChange={(e) => setQuoteFrom(e.target.value)}>
            <option value="">Simulated exchange (local only)</option>
            {live.map((l) => <option key={l.id} value={l.id}>{l.label} ({l.broker})</option>)}
          </select>
        </Field>
      )}
      <Field id={`${prefix}-ip`} label="Static IP note" error={at("static_ip_note")}>
        <input id={`${prefix}-ip`} value={note} onChange={(e) => setNote(e.target.value)} />
      </Field>
      {account && (
        <>
          <Field id={`${prefix}-loss`} label="Daily loss limit (Rs, empty: none)"
            error={at("daily_loss_limit")}>
            <input id={`${prefix}-loss`} inputMode="decimal" value={limits.loss}
              onChange={(e) => setLimits({ ...limits, loss: e.target.value })} />
          </Field>
          <Field id={`${prefix}-profit`} label="Daily profit target (Rs, empty: none)"
            error={at("daily_profit_target")}>
            <input id={`${prefix}-profit`} inputMode="decimal" value={limits.profit}
              onChange={(e) => setLimits({ ...limits, profit: e.target.value })} />
          </Field>
        </>
      )}
      {failure && !failure.field && <ErrorText error={save.error} />}
      <div className="actions">
        <button type="submit" disabled={save.isPending}>{account ? "Save" : "Add account"}</button>
        {account && <button type="button" className="secondary" onClick={onDone}>Cancel</button>}
      </div>
    </form>
  );
}
