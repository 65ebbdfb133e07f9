import { type FormEvent, useState } from "react";
import { ApiFailure, tokensFrom, unwrap } from "../api/client";
import { ErrorText, Field } from "../components/common";
import { useApp } from "../context";
import { STATES, UNION_TERRITORIES, indianMobile } from "../lib/regions";

type Mode = "login" | "signup" | "confirm";

export function AuthPage() {
  const { client, session } = useApp();
  const [mode, setMode] = useState<Mode>("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [state, setState] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<ApiFailure | null>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const fieldError = (field: string) =>
    error?.detail.field === field ? error.detail.message : undefined;

  const login = async () => {
    const body = unwrap(await client.POST("/auth/login", { body: { email, password } }));
    session.signIn(tokensFrom(body), body.refresh_token);
  };

  const run = (action: () => Promise<void>) => async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure : new ApiFailure(
        { code: "network", message: String(failure) }, 0));
    } finally {
      setBusy(false);
    }
  };

  const signup = run(async () => {
    const created = unwrap(await client.POST("/auth/signup", {
      body: { email, password, name, phone: indianMobile(phone), state },
    }));
    if (created.confirmed) await login();
    else {
      setNotice(`We sent a code to ${email}. Enter it to confirm your account.`);
      setMode("confirm");
    }
  });
  const confirm = run(async () => {
    unwrap(await client.POST("/auth/confirm", { body: { email, code } }));
    await login();
  });

  return (
    <main id="main" className="auth">
      <h1>optexec</h1>
      <p>Options strategies on your broker accounts, at the second.</p>
      <div role="tablist" aria-label="Sign in or sign up" className="tabs">
        {(["login", "signup"] as const).map((m) => (
          <button key={m} type="button" role="tab" aria-selected={mode === m}
            onClick={() => { setMode(m); setError(null); }}>
            {m === "login" ? "Log in" : "Sign up"}
          </button>
        ))}
      </div>
      {notice && <p role="status">{notice}</p>}
      <form onSubmit={mode === "login" ? run(login) : mode === "signup" ? signup : confirm}
        aria-label={mode === "login" ? "Log in" : mode === "signup" ? "Sign up" : "Confirm"}>
        <Field id="email" label="Email" error={fieldError("email")}>
          <input id="email" type="email" autoComplete="email" required value={email}
            onChange={(e) => setEmail(e.target.value)} />
        </Field>
        {mode !== "confirm" && (
          <Field id="password" label="Password" error={fieldError("password")}>
            <input id="password" type="password" required value={password}
              autoComplete={mode === "login" ? "current-password" : "new-password"}
              onChange={(e) => setPassword(e.target.value)} />
          </Field>
        )}
        {mode === "signup" && (
          <>
            <Field id="name" label="Full name" error={fieldError("name")}>
              <input id="name" autoComplete="name" required value={name}
                onChange={(e) => setName(e.target.value)} />
            </Field>
            <Field id="phone" label="Mobile (+91)" error={fieldError("phone")}>
              <input id="phone" type="tel" inputMode="numeric" autoComplete="tel-national"
                placeholder="98765 43210" required value={phone}
                onChange={(e) => setPhone(e.target.value)} />
            </Field>
            <Field id="state" label="State / union territory" error={fieldError("state")}>
              <select id="state" required value={state} onChange={(e) => setState(e.target.value)}>
                <option value="">Choose</option>
                <optgroup label="States">
                  {STATES.map((s) => <option key={s}>{s}</option>)}
                </optgroup>
                <optgroup label="Union territories">
                  {UNION_TERRITORIES.map((s) => <option key={s}>{s}</option>)}
                </optgroup>
              </select>
            </Field>
          </>
        )}
        {mode === "confirm" && (
          <Field id="code" label="Confirmation code" error={fieldError("code")}>
            <input id="code" inputMode="numeric" autoComplete="one-time-code" required value={code}
              onChange={(e) => setCode(e.target.value)} />
          </Field>
        )}
        {error && !error.detail.field && <ErrorText error={error} />}
        <button type="submit" disabled={busy}>
          {mode === "login" ? "Log in" : mode === "signup" ? "Create account" : "Confirm"}
        </button>
      </form>
    </main>
  );
}
