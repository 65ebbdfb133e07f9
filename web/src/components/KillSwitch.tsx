/**
 * The kill switch, on every page: choose a scope (all / one account / one strategy), confirm,
 * then follow the square-off through GET /kill-switch until the scope is flat.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";
import { type KillSwitchOperation, unwrap } from "../api/client";
import { useApp } from "../context";
import { formatClock } from "../lib/time";
import { ErrorText, Field, Status } from "./common";

type Scope = "all" | "account" | "strategy";

export function KillSwitch() {
  const { client } = useApp();
  const queries = useQueryClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const [scope, setScope] = useState<Scope>("all");
  const [target, setTarget] = useState("");
  const [reason, setReason] = useState("");
  const [step, setStep] = useState<"choose" | "confirm">("choose");
  const [isOpen, setOpen] = useState(false);
  const operations = useQuery({
    queryKey: ["kill-switch"],
    queryFn: async () => unwrap(await client.GET("/kill-switch")).items,
    refetchInterval: (query) =>
      isOpen || (query.state.data ?? []).some((o) => o.status !== "FLAT") ? 1_000 : 15_000,
  });
  const accounts = useQuery({
    queryKey: ["accounts"], enabled: isOpen && scope === "account",
    queryFn: async () => unwrap(await client.GET("/accounts")).items,
  });
  const strategies = useQuery({
    queryKey: ["strategies"], enabled: isOpen && scope === "strategy",
    queryFn: async () => unwrap(await client.GET("/strategies")).items,
  });
  const engage = useMutation({
    mutationFn: async () => unwrap(await client.POST("/kill-switch", {
      body: { scope, id: scope === "all" ? null : target, reason: reason || "from the web app" },
    })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["kill-switch"] }),
  });
  const release = useMutation({
    mutationFn: async (op: KillSwitchOperation) => {
      const answer = op.scope === "all"
        ? await client.DELETE("/kill-switch/{scope}", { params: { path: { scope: op.scope } } })
        : await client.DELETE("/kill-switch/{scope}/{target}", {
          params: { path: { scope: op.scope, target: op.id ?? "" } } });
      return unwrap(answer);
    },
    onSuccess: () => queries.invalidateQueries({ queryKey: ["kill-switch"] }),
  });
  const active = operations.data ?? [];
  const engaging = active.some((o) => o.status !== "FLAT");
  const open = () => { setStep("choose"); engage.reset(); setOpen(true); dialog.current?.showModal(); };
  const close = () => { dialog.current?.close(); setOpen(false); };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (step === "choose") setStep("confirm");
    else engage.mutate();
  };
  const targets = scope === "account"
    ? (accounts.data ?? []).map((a) => ({ id: a.id, label: `${a.label} (${a.broker})` }))
    : (strategies.data ?? []).map((s) => ({ id: s.id, label: s.name }));
  const scopeText = scope === "all" ? "every account and strategy"
    : targets.find((t) => t.id === target)?.label ?? "the chosen one";
  return (
    <>
      <button type="button" className={active.length ? "kill engaged" : "kill"} onClick={open}>
        Kill switch{active.length ? (engaging ? " (squaring off)" : " (engaged, flat)") : ""}
      </button>
      <dialog ref={dialog} aria-labelledby="kill-title" onClose={() => setOpen(false)}>
        <h2 id="kill-title">Kill switch</h2>
        <p>Cancels open orders, squares off positions and refuses new entries in the scope.</p>
        <form onSubmit={submit} aria-label="Engage the kill switch">
          <fieldset disabled={step === "confirm"}>
            <legend>Scope</legend>
            {(["all", "account", "strategy"] as const).map((s) => (
              <label key={s} className="inline">
                <input type="radio" name="kill-scope" value={s} checked={scope === s}
                  onChange={() => { setScope(s); setTarget(""); }} /> {s === "all" ? "Everything" : `One ${s}`}
              </label>
            ))}
            {scope !== "all" && (
              <Field id="kill-target" label={scope === "account" ? "Account" : "Strategy"}>
                <select id="kill-target" required value={target} onChange={(e) => setTarget(e.target.value)}>
                  <option value="">Choose</option>
                  {targets.map((t) => <option key={t.id} value={t.id}>{t.label}</option>)}
                </select>
              </Field>
            )}
            <Field id="kill-reason" label="Reason (optional)">
              <input id="kill-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            </Field>
          </fieldset>
          {step === "confirm" && !engage.data && (
            <p role="alert" className="warning">Square off {scopeText} now? This cannot be undone.</p>
          )}
          <ErrorText error={engage.error} />
          <div className="actions">
            {!engage.data && (
              <button type="submit" className="danger" disabled={engage.isPending}>
                {step === "choose" ? "Continue" : "Yes, square off now"}
              </button>
            )}
            <button type="button" className="secondary" onClick={close}>Close</button>
          </div>
        </form>
        <h3>Progress</h3>
        <ErrorText error={operations.error ?? release.error} />
        {active.length === 0 && <p>No kill switch engaged.</p>}
        <ul className="operations" aria-live="polite">
          {active.map((o) => (
            <li key={`${o.scope}-${o.id ?? "all"}`}>
              <Status value={o.status} /> {o.scope}{o.id ? ` ${o.id.slice(0, 8)}` : ""} · engaged{" "}
              {formatClock(o.engaged_at)} · {o.attempts} pass{o.attempts === 1 ? "" : "es"}
              {o.flat_at ? ` · flat at ${formatClock(o.flat_at)}` : ""}
              {o.status === "FLAT" && (
                <button type="button" className="secondary" onClick={() => release.mutate(o)}>
                  Release<span className="sr"> the {o.scope} kill switch</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      </dialog>
    </>
  );
}
