import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { ApiFailure, type Strategy, unwrap } from "../api/client";
import { ErrorText, Field, Status, Scroll } from "../components/common";
import { PayoffChart } from "../components/PayoffChart";
import { useApp, useServerNow } from "../context";
import {
  EXPIRIES, type LegForm, RE_ENTRY_MODES, WAIT_DIRECTIONS, STRIKE_METHODS, type StrategyBody, type StrategyForm,
  TEMPLATES, UNDERLYINGS, type UnderlyingLevelForm, WEEKDAYS, type Weekday, applyTemplate, emptyForm, fieldId, fieldPaths,
  fieldTarget, fromStrategy, leg, payoffLegs, toRequest,
} from "../lib/builder";
import { formatNumber, formatRupees, toPaise } from "../lib/money";
import { summarise } from "../lib/payoff";
import { formatDateTime, istWeekday } from "../lib/time";
import { navigate } from "../router";
import { useAccounts } from "./AccountsPage";

function useStrategies() {
  const { client } = useApp();
  return useQuery({
    queryKey: ["strategies"],
    queryFn: async () => unwrap(await client.GET("/strategies")).items,
  });
}

export function BuilderPage({ id }: { id: string | null }) {
  const strategies = useStrategies();
  const editing = id && id !== "new" ? strategies.data?.find((s) => s.id === id) : undefined;
  return (
    <section aria-labelledby="builder-title">
      <h1 id="builder-title">Strategies</h1>
      <StrategyList strategies={strategies.data ?? []} current={id} />
      <ErrorText error={strategies.error} />
      {(id === "new" || !id) && <Builder key="new" strategy={undefined} />}
      {editing && <Builder key={`${editing.id}-${editing.version}`} strategy={editing} />}
      {editing && <PreviewPanel strategyId={editing.id} />}
    </section>
  );
}

function StrategyList({ strategies, current }: { strategies: Strategy[]; current: string | null }) {
  const { client } = useApp();
  const queries = useQueryClient();
  const refresh = () => queries.invalidateQueries({ queryKey: ["strategies"] });
  const act = useMutation({
    mutationFn: async ({ s, action }: { s: Strategy; action: "pause" | "resume" | "clone" | "delete" }) => {
      const path = { strategy_id: s.id };
      if (action === "delete") {
        return unwrap(await client.DELETE("/strategies/{strategy_id}", { params: { path } }));
      }
      if (action === "clone") {
        const body = { ...toRequest(fromStrategy(s as unknown as StrategyBody)), name: `${s.name} (copy)` };
        const made = unwrap(await client.POST("/strategies", { body }));
        navigate(`/builder/${made.id}`);
        return made;
      }
      const route = action === "pause" ? "/strategies/{strategy_id}/pause" : "/strategies/{strategy_id}/resume";
      return unwrap(await client.POST(route, { params: { path }, body: { version: s.version } }));
    },
    onSuccess: refresh,
  });
  if (strategies.length === 0) return <p>No strategies yet: start from a template below.</p>;
  return (
    <>
      <table className="list">
        <caption>Your strategies</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Entry</th><th scope="col">Exit</th>
          <th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {strategies.map((s) => (
            <tr key={s.id} aria-current={s.id === current ? "true" : undefined}>
              <td><a href={`#/builder/${s.id}`}>{s.name}</a></td>
              <td>{s.entry.time} {s.entry.days.join(" ")}</td>
              <td>{s.exit.time}</td>
              <td><Status value={s.status} /></td>
              <td className="actions">
                <button type="button" className="secondary"
                  onClick={() => act.mutate({ s, action: s.status === "ACTIVE" ? "pause" : "resume" })}>
                  {s.status === "ACTIVE" ? "Pause" : "Resume"}<span className="sr"> {s.name}</span>
                </button>
                <button type="button" className="secondary" onClick={() => act.mutate({ s, action: "clone" })}>
                  Clone<span className="sr"> {s.name}</span>
                </button>
                <button type="button" className="danger" onClick={() => {
                  if (window.confirm(`Delete ${s.name}?`)) act.mutate({ s, action: "delete" });
                }}>Delete<span className="sr"> {s.name}</span></button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p><a href="#/builder/new">New strategy</a></p>
      <ErrorText error={act.error} />
    </>
  );
}

function Builder({ strategy }: { strategy: Strategy | undefined }) {
  const { client } = useApp();
  const queries = useQueryClient();
  const accounts = useAccounts();
  const now = useServerNow();
  const today = istWeekday(now) as Weekday;
  const [form, setForm] = useState<StrategyForm | null>(
    strategy ? fromStrategy(strategy as unknown as StrategyBody) : null);
  useEffect(() => {
    if (!form && accounts.data) {
      setForm(applyTemplate(emptyForm("", accounts.data.map((a) => a.id),
        WEEKDAYS.includes(today) ? today : "MON"), "iron_condor"));
    }
  }, [form, accounts.data, today]);
  const save = useMutation({
    mutationFn: async (current: StrategyForm) => {
      let basketId = current.basketId;
      if (!basketId) {
        const baskets = unwrap(await client.GET("/baskets")).items;
        basketId = baskets[0]?.id ??
          unwrap(await client.POST("/baskets", { body: { name: "My strategies", enabled: true } })).id;
      }
      const body = toRequest({ ...current, basketId });
      if (strategy) {
        return unwrap(await client.PUT("/strategies/{strategy_id}", {
          params: { path: { strategy_id: strategy.id } }, body: { ...body, version: strategy.version },
        }));
      }
      return unwrap(await client.POST("/strategies", { body }));
    },
    onSuccess: async (saved) => {
      await queries.invalidateQueries({ queryKey: ["strategies"] });
      await queries.invalidateQueries({ queryKey: ["preview", saved.id] });
      navigate(`/builder/${saved.id}`);
    },
  });
  const known = useMemo(() => (form ? fieldPaths(form) : new Set<string>()), [form]);
  if (!form) return <p>Loading…</p>;
  const failure = save.error instanceof ApiFailure ? save.error.detail : null;
  const target = failure ? fieldTarget(failure.field, known) : null;
  const errorAt = (path: string) => (target === path ? failure?.message : undefined);
  const set = (patch: Partial<StrategyForm>) => setForm({ ...form, ...patch });
  const setLeg = (i: number, patch: Partial<LegForm>) =>
    set({ legs: form.legs.map((l, j) => (j === i ? { ...l, ...patch } : l)) });
  const input = (path: string) => ({
    id: fieldId(path),
    "aria-invalid": errorAt(path) ? true : undefined,
    "aria-describedby": errorAt(path) ? `${fieldId(path)}-error` : undefined,
  });
  const submit = (event: FormEvent) => { event.preventDefault(); save.mutate(form); };

  return (
    <form onSubmit={submit} aria-label={strategy ? `Edit ${strategy.name}` : "New strategy"} className="builder">
      <h2>{strategy ? `Edit ${strategy.name}` : "New strategy"}</h2>
      <fieldset>
        <legend>Template</legend>
        <div className="actions">
          {TEMPLATES.map((t) => (
            <button key={t.name} type="button" className="secondary"
              onClick={() => setForm(applyTemplate(form, t.name))}>{t.label}</button>
          ))}
        </div>
      </fieldset>
      <div className="grid">
        <Field id={fieldId("name")} label="Name" error={errorAt("name")}>
          <input {...input("name")} required value={form.name} onChange={(e) => set({ name: e.target.value })} />
        </Field>
        <Field id={fieldId("underlying")} label="Underlying" error={errorAt("underlying")}>
          <select {...input("underlying")} value={form.underlying}
            onChange={(e) => set({ underlying: e.target.value as StrategyForm["underlying"] })}>
            {UNDERLYINGS.map((u) => <option key={u}>{u}</option>)}
          </select>
        </Field>
        <Field id={fieldId("expiry")} label="Expiry" error={errorAt("expiry")}>
          <select {...input("expiry")} value={form.expiry}
            onChange={(e) => set({ expiry: e.target.value as StrategyForm["expiry"] })}>
            {EXPIRIES.map((x) => <option key={x} value={x}>{x.replace("_", " ")}</option>)}
          </select>
        </Field>
        <Field id={fieldId("product")} label="Product" error={errorAt("product")}>
          <select {...input("product")} value={form.product}
            onChange={(e) => set({ product: e.target.value as StrategyForm["product"] })}>
            <option value="MIS">MIS (intraday)</option><option value="NRML">NRML (carry)</option>
          </select>
        </Field>
        <Field id={fieldId("entry.time")} label="Entry time (IST, HH:MM:SS)" error={errorAt("entry.time")}>
          <input {...input("entry.time")} required pattern="\d{1,2}:\d{2}(:\d{2})?" value={form.entryTime}
            onChange={(e) => set({ entryTime: e.target.value })} />
        </Field>
        <Field id={fieldId("exit.time")} label="Exit time (IST, HH:MM:SS)" error={errorAt("exit.time")}>
          <input {...input("exit.time")} required pattern="\d{1,2}:\d{2}(:\d{2})?" value={form.exitTime}
            onChange={(e) => set({ exitTime: e.target.value })} />
        </Field>
      </div>
      <fieldset {...input("entry.days")}>
        <legend>Entry days</legend>
        {WEEKDAYS.map((d) => (
          <label key={d} className="inline">
            <input type="checkbox" checked={form.days.includes(d)} onChange={(e) => set({
              days: e.target.checked ? WEEKDAYS.filter((w) => w === d || form.days.includes(w))
                : form.days.filter((w) => w !== d) })} /> {d}
          </label>
        ))}
        {errorAt("entry.days") && <span className="error" role="alert">{errorAt("entry.days")}</span>}
        <Field id={fieldId("entry.dte")} label="Only at days to expiry (e.g. 0, 1; empty: every day)"
          error={errorAt("entry.dte")}>
          <input {...input("entry.dte")} className="short" value={form.dte ?? ""}
            onChange={(e) => set({ dte: e.target.value })} />
        </Field>
      </fieldset>
      <fieldset {...input("allocations")}>
        <legend>Accounts and multipliers</legend>
        {accounts.data?.length === 0 && <p>Add an account first (Accounts page).</p>}
        {accounts.data?.map((a) => {
          const i = form.allocations.findIndex((x) => x.accountId === a.id);
          const on = i >= 0;
          return (
            <div key={a.id} className="allocation">
              <label className="inline">
                <input type="checkbox" checked={on} onChange={(e) => set({
                  allocations: e.target.checked ? [...form.allocations, { accountId: a.id, multiplier: "1" }]
                    : form.allocations.filter((x) => x.accountId !== a.id) })} /> {a.label} ({a.broker})
              </label>
              {on && (
                <Field id={fieldId(`allocations[${i}].multiplier`)} label={`Multiplier for ${a.label}`}
                  error={errorAt(`allocations[${i}].multiplier`)}>
                  <input {...input(`allocations[${i}].multiplier`)} inputMode="decimal" className="short"
                    value={form.allocations[i]?.multiplier ?? "1"} onChange={(e) => set({
                      allocations: form.allocations.map((x, j) => (j === i ? { ...x, multiplier: e.target.value } : x)) })} />
                </Field>
              )}
            </div>
          );
        })}
        {errorAt("allocations") && <span className="error" role="alert">{errorAt("allocations")}</span>}
      </fieldset>
      <fieldset {...input("legs")}>
        <legend>Legs</legend>
        {errorAt("legs") && <span className="error" role="alert">{errorAt("legs")}</span>}
        {form.legs.map((l, i) => (
          <LegEditor key={i} index={i} leg={l} errorAt={errorAt} input={input}
            onChange={(patch) => setLeg(i, patch)}
            onRemove={() => set({ legs: form.legs.filter((_, j) => j !== i) })} />
        ))}
        <button type="button" className="secondary" onClick={() => set({ legs: [...form.legs, leg("SELL", "CE", 1)] })}>
          Add leg
        </button>
      </fieldset>
      <fieldset>
        <legend>Strategy risk</legend>
        <div className="grid">
          <Field id={fieldId("risk.mtm_stop_loss")} label="MTM stop loss (Rs)" error={errorAt("risk.mtm_stop_loss")}>
            <input {...input("risk.mtm_stop_loss")} inputMode="decimal" value={form.mtmStopLoss}
              onChange={(e) => set({ mtmStopLoss: e.target.value })} />
          </Field>
          <Field id={fieldId("risk.mtm_target")} label="MTM target (Rs)" error={errorAt("risk.mtm_target")}>
            <input {...input("risk.mtm_target")} inputMode="decimal" value={form.mtmTarget}
              onChange={(e) => set({ mtmTarget: e.target.value })} />
          </Field>
          <Field id={fieldId("risk.on_leg_failure")} label="If a leg fails" error={errorAt("risk.on_leg_failure")}>
            <select {...input("risk.on_leg_failure")} value={form.onLegFailure}
              onChange={(e) => set({ onLegFailure: e.target.value as StrategyForm["onLegFailure"] })}>
              <option value="UNWIND">Unwind the filled legs</option><option value="KEEP">Keep them and alert</option>
            </select>
          </Field>
          <UnderlyingLevel path="risk.underlying_stop_loss" label="Underlying stop loss"
            level={form.underlyingStopLoss ?? null} errorAt={errorAt} input={input}
            onChange={(underlyingStopLoss) => set({ underlyingStopLoss })} />
          <UnderlyingLevel path="risk.underlying_target" label="Underlying target"
            level={form.underlyingTarget ?? null} errorAt={errorAt} input={input}
            onChange={(underlyingTarget) => set({ underlyingTarget })} />
          <Field id={fieldId("risk.margin_check")} label="Margin check" error={errorAt("risk.margin_check")}>
            <label className="inline">
              <input type="checkbox" {...input("risk.margin_check")} checked={form.marginCheck}
                onChange={(e) => set({ marginCheck: e.target.checked })} />
              {" "}Skip an account whose broker margin is short (asked before each entry)
            </label>
          </Field>
        </div>
        <p className="hint">Underlying levels are the index&apos;s move from its level at entry, against
          (stop) or with (target) the legs&apos; net direction; legs leaning neither way stop on a move
          either way.</p>
      </fieldset>
      {failure && target === "form" && <ErrorText error={save.error} />}
      <button type="submit" disabled={save.isPending}>{strategy ? "Save changes" : "Save strategy"}</button>
    </form>
  );
}

interface UnderlyingLevelProps {
  path: string;
  label: string;
  level: UnderlyingLevelForm | null;
  errorAt: LegProps["errorAt"];
  input: LegProps["input"];
  onChange: (level: UnderlyingLevelForm | null) => void;
}

/** An underlying stop or target: a value and its unit (index points or % of the level at entry). */
function UnderlyingLevel({ path, label, level, errorAt, input, onChange }: UnderlyingLevelProps) {
  const type = level?.type ?? "POINTS";
  return (
    <>
      <Field id={fieldId(path)} label={`${label} (${type === "PERCENT" ? "%" : "index points"})`}
        error={errorAt(path)}>
        <input {...input(path)} inputMode="decimal" className="short" value={level?.value ?? ""}
          onChange={(e) => onChange(e.target.value ? { type, value: e.target.value } : null)} />
      </Field>
      <Field id={fieldId(`${path}.type`)} label={`${label} unit`} error={undefined}>
        <select id={fieldId(`${path}.type`)} value={type}
          onChange={(e) => onChange({ type: e.target.value as UnderlyingLevelForm["type"],
            value: level?.value ?? "" })}>
          <option value="POINTS">index points</option><option value="PERCENT">% of the index</option>
        </select>
      </Field>
    </>
  );
}

/** A saved level keeps its unit; a new one is a percentage of the entry price. */
const unit = (level: LegForm["stopLoss"]) =>
  ({ PERCENT: "%", POINTS: "points", ABSOLUTE: "Rs" })[level?.type ?? "PERCENT"];

interface LegProps {
  index: number;
  leg: LegForm;
  errorAt: (path: string) => string | undefined;
  input: (path: string) => Record<string, unknown>;
  onChange: (patch: Partial<LegForm>) => void;
  onRemove: () => void;
}

function LegEditor({ index: i, leg: l, errorAt, input, onChange, onRemove }: LegProps) {
  const p = (part: string) => `legs[${i}].${part}`;
  return (
    <div className="leg" role="group" aria-label={`Leg ${i + 1}`} {...input(`legs[${i}]`)}>
      <span className="leg-title">Leg {i + 1}</span>
      <Field id={fieldId(p("side"))} label="Side" error={errorAt(p("side"))}>
        <select {...input(p("side"))} value={l.side} onChange={(e) => onChange({ side: e.target.value as LegForm["side"] })}>
          <option>BUY</option><option>SELL</option>
        </select>
      </Field>
      <Field id={fieldId(p("option_type"))} label="Type" error={errorAt(p("option_type"))}>
        <select {...input(p("option_type"))} value={l.optionType}
          onChange={(e) => onChange({ optionType: e.target.value as LegForm["optionType"] })}>
          <option>CE</option><option>PE</option>
        </select>
      </Field>
      <Field id={fieldId(p("strike.method"))} label="Strike by" error={errorAt(p("strike.method"))}>
        <select {...input(p("strike.method"))} value={l.method}
          onChange={(e) => onChange({ method: e.target.value as LegForm["method"] })}>
          {STRIKE_METHODS.map((m) => <option key={m} value={m}>{m.replace(/_/g, " ").toLowerCase()}</option>)}
        </select>
      </Field>
      <Field id={fieldId(p("strike.value"))} label="Strike value" error={errorAt(p("strike.value"))}>
        <input {...input(p("strike.value"))} className="short" value={l.value} onChange={(e) => onChange({ value: e.target.value })} />
      </Field>
      <Field id={fieldId(p("lots"))} label="Lots" error={errorAt(p("lots"))}>
        <input {...input(p("lots"))} className="short" type="number" min={1} value={l.lots}
          onChange={(e) => onChange({ lots: Number(e.target.value) })} />
      </Field>
      <Field id={fieldId(p("stop_loss.value"))} label={`Stop loss (${unit(l.stopLoss)})`} error={errorAt(p("stop_loss.value"))}>
        <input {...input(p("stop_loss.value"))} className="short" inputMode="decimal" value={l.stopLoss?.value ?? ""}
          onChange={(e) => onChange({ stopLoss: e.target.value ? { type: l.stopLoss?.type ?? "PERCENT", value: e.target.value } : null })} />
      </Field>
      <Field id={fieldId(p("target.value"))} label={`Target (${unit(l.target)})`} error={errorAt(p("target.value"))}>
        <input {...input(p("target.value"))} className="short" inputMode="decimal" value={l.target?.value ?? ""}
          onChange={(e) => onChange({ target: e.target.value ? { type: l.target?.type ?? "PERCENT", value: e.target.value } : null })} />
      </Field>
      <Field id={fieldId(p("trailing.every"))} label="Trail every" error={errorAt(p("trailing.every"))}>
        <input {...input(p("trailing.every"))} className="short" inputMode="decimal" value={l.trailing?.every ?? ""}
          onChange={(e) => onChange({ trailing: { every: e.target.value, by: l.trailing?.by ?? "" } })} />
      </Field>
      <Field id={fieldId(p("trailing.by"))} label="Trail by" error={errorAt(p("trailing.by"))}>
        <input {...input(p("trailing.by"))} className="short" inputMode="decimal" value={l.trailing?.by ?? ""}
          onChange={(e) => onChange({ trailing: { every: l.trailing?.every ?? "", by: e.target.value } })} />
      </Field>
      <Field id={fieldId(p("re_entry.mode"))} label="Re-entry" error={errorAt(p("re_entry.mode"))}>
        <select {...input(p("re_entry.mode"))} value={l.reEntry ?? ""}
          onChange={(e) => onChange({ reEntry: (e.target.value || null) as LegForm["reEntry"] })}>
          <option value="">None</option>
          {RE_ENTRY_MODES.map((m) => <option key={m.mode} value={m.mode}>{m.label}</option>)}
        </select>
      </Field>
      <WaitEditor i={i} l={l} errorAt={errorAt} input={input} onChange={onChange} />
      <button type="button" className="danger" onClick={onRemove}>Remove<span className="sr"> leg {i + 1}</span></button>
      {errorAt(`legs[${i}]`) && <span className="error" role="alert">{errorAt(`legs[${i}]`)}</span>}
    </div>
  );
}

/** Wait and trade: enter only once the premium moved this far from the entry time's, by a time. */
function WaitEditor({ i, l, errorAt, input, onChange }:
  { i: number; l: LegForm } & Pick<LegProps, "errorAt" | "input" | "onChange">) {
  const p = (part: string) => `legs[${i}].wait_and_trade.${part}`;
  const wait = l.wait ?? { direction: "UP" as const, type: "PERCENT" as const, value: "", until: "" };
  const set = (change: Partial<typeof wait>) => onChange({ wait: { ...wait, ...change } });
  return (
    <>
      <Field id={fieldId(p("value"))} label="Wait for a move of" error={errorAt(p("value"))}>
        <input {...input(p("value"))} className="short" inputMode="decimal" value={wait.value}
          placeholder="enter at T" onChange={(e) => set({ value: e.target.value })} />
      </Field>
      <Field id={fieldId(p("type"))} label="Move in" error={errorAt(p("type"))}>
        <select {...input(p("type"))} value={wait.type}
          onChange={(e) => set({ type: e.target.value as typeof wait.type })}>
          <option value="PERCENT">% of premium</option><option value="POINTS">points</option>
        </select>
      </Field>
      <Field id={fieldId(p("direction"))} label="Move" error={errorAt(p("direction"))}>
        <select {...input(p("direction"))} value={wait.direction}
          onChange={(e) => set({ direction: e.target.value as typeof wait.direction })}>
          {WAIT_DIRECTIONS.map((d) => <option key={d.direction} value={d.direction}>{d.label}</option>)}
        </select>
      </Field>
      <Field id={fieldId(p("until"))} label="Skip the leg after" error={errorAt(p("until"))}>
        <input {...input(p("until"))} className="short" value={wait.until} placeholder="10:30:00"
          onChange={(e) => set({ until: e.target.value })} />
      </Field>
    </>
  );
}

function PreviewPanel({ strategyId }: { strategyId: string }) {
  const { client } = useApp();
  const preview = useQuery({
    queryKey: ["preview", strategyId],
    queryFn: async () => unwrap(await client.GET("/strategies/{strategy_id}/preview", {
      params: { path: { strategy_id: strategyId } } })),
    refetchInterval: 5_000,
  });
  const data = preview.data;
  const summary = useMemo(
    () => summarise(payoffLegs((data?.accounts ?? []).flatMap((a) => a.legs))), [data]);
  return (
    <section aria-labelledby="preview-title" className="preview">
      <h2 id="preview-title">Preview: what would be sent now</h2>
      <ErrorText error={preview.error} />
      {data && (
        <>
          <p>
            {data.underlying} spot {formatNumber(data.spot)} · expiry {data.expiry} · lot size{" "}
            {data.contract.lot_size} · at {formatDateTime(data.at)} ·{" "}
            {data.would_fire ? "would fire" : "would not fire now (market closed)"}
          </p>
          <p className="muted">Prices: {data.quotes.source}{data.quotes.live ? " (live)" : ""}. {data.quotes.note}</p>
          <Scroll label={"Orders per account and leg"}>
            <table className="list">
              <caption>Orders per account and leg</caption>
              <thead><tr><th scope="col">Account</th><th scope="col">Leg</th><th scope="col">Strike</th>
                <th scope="col">Symbol</th><th scope="col">Qty</th><th scope="col">Slices</th>
                <th scope="col">LTP</th><th scope="col">Limit</th></tr></thead>
              <tbody>
                {data.accounts.flatMap((a) => a.legs.map((l) => (
                  <tr key={`${a.account_id}-${l.leg}`}>
                    <td>{a.broker} {a.account_id.slice(0, 6)}</td>
                    <td>{l.side} {l.option_type}</td>
                    <td>{l.strike ?? "-"}</td>
                    <td>{String((l.symbol as { symbol?: string } | undefined)?.symbol ?? "-")}</td>
                    <td>{l.quantity ?? "-"}</td>
                    <td>{l.slices?.join(" + ") ?? "-"}</td>
                    <td>{formatRupees(l.ltp)}</td>
                    <td>{l.error ? <span className="error">{JSON.stringify(l.error)}</span> : formatRupees(l.limit_price)}</td>
                  </tr>
                )))}
              </tbody>
            </table>
          </Scroll>
          <PayoffChart summary={summary} spot={toPaise(data.spot)} />
        </>
      )}
    </section>
  );
}
