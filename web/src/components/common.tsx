/** Small shared pieces: error text, money, a labelled field. */
import type { ReactNode } from "react";
import { ApiFailure } from "../api/client";
import { formatRupees, toPaise } from "../lib/money";

export function ErrorText({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  const text = error instanceof ApiFailure ? error.detail.message : String(error);
  return <p className="error" role="alert" id={id}>{text}</p>;
}

export function Money({ value }: { value: string | number | null | undefined }) {
  const negative = value !== null && value !== undefined && value !== "" && toPaise(value) < 0;
  return <span className={negative ? "loss" : "money"}>{formatRupees(value)}</span>;
}

export function Field(
  { id, label, error, children }: { id: string; label: string; error?: string; children: ReactNode },
) {
  return (
    <div className={error ? "field invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error && <span className="error" id={`${id}-error`} role="alert">{error}</span>}
    </div>
  );
}

export function Status({ value }: { value: string }) {
  return <span className={`status status-${value.toLowerCase()}`}>{value}</span>;
}

/** A wide table's scroll box: focusable and named, so keyboard users can scroll it too. */
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="scroll" role="region" aria-label={label} tabIndex={0}>{children}</div>
  );
}
