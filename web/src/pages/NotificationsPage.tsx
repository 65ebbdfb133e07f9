/**
 * What the platform told the trader (the in-app history, with where each message went) and where
 * each kind of event should go. Urgent kinds reach every channel whatever is chosen, so their boxes
 * are shown ticked and locked rather than pretending a choice exists.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { unwrap } from "../api/client";
import { ErrorText, Scroll } from "../components/common";
import { useApp } from "../context";
import {
  CHANNELS, type Channel, type Channels, describeDeliveries, effective, kindLabel, toggle,
} from "../lib/notifications";
import { formatDateTime } from "../lib/time";

const CHANNEL_LABEL: Record<Channel, string> = { in_app: "In app", telegram: "Telegram", email: "E-mail" };

export function NotificationsPage() {
  const { client } = useApp();
  const history = useQuery({
    queryKey: ["notifications"],
    queryFn: async () => unwrap(await client.GET("/notifications", { params: { query: { limit: "50" } } })),
    refetchInterval: 10_000,
  });
  const items = history.data?.notifications ?? [];
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <TelegramLink />
      <h2>Recent</h2>
      <ErrorText error={history.error} />
      {history.data && items.length === 0 && <p>Nothing yet: fills, stops and alerts appear here.</p>}
      {items.length > 0 && (
        <ol className="notifications" aria-label="Recent notifications">
          {items.map((n) => (
            <li key={n.id} className={n.urgency === "urgent" ? "card urgent" : "card"}>
              <p className="muted">
                {formatDateTime(n.occurred_at)} · {kindLabel(n.kind)}
                {n.urgency === "urgent" && <strong> · urgent</strong>}
              </p>
              <p className="message">{n.text}</p>
              <p className="muted">Delivered: {describeDeliveries(n.deliveries)}</p>
            </li>
          ))}
        </ol>
      )}
      <Preferences />
    </section>
  );
}

function TelegramLink() {
  const { client } = useApp();
  const link = useMutation({
    mutationFn: async () => unwrap(await client.POST("/notifications/telegram/link")),
  });
  const prefs = usePreferences();
  const linked = prefs.data?.telegram.linked ?? false;
  return (
    <div className="card">
      <h2>Telegram</h2>
      <p>{linked ? "A Telegram chat is linked." : "No Telegram chat is linked yet."}</p>
      <button type="button" onClick={() => link.mutate()} disabled={link.isPending}>
        {linked ? "Link another chat" : "Link Telegram"}
      </button>
      <ErrorText error={link.error} />
      {link.data && (
        <p>
          Open <a href={link.data.url} target="_blank" rel="noreferrer">{link.data.url}</a> and press
          Start before {formatDateTime(link.data.expires_at)}.
        </p>
      )}
    </div>
  );
}

function usePreferences() {
  const { client } = useApp();
  return useQuery({
    queryKey: ["notification-preferences"],
    queryFn: async () => unwrap(await client.GET("/notifications/preferences")),
  });
}

function Preferences() {
  const { client } = useApp();
  const queries = useQueryClient();
  const prefs = usePreferences();
  const [draft, setDraft] = useState<Channels | null>(null);
  useEffect(() => {
    if (prefs.data && draft === null) setDraft(prefs.data.channels as Channels);
  }, [prefs.data, draft]);
  const save = useMutation({
    mutationFn: async (channels: Channels) =>
      unwrap(await client.PUT("/notifications/preferences", { body: { channels } })),
    onSuccess: (answer) => {
      queries.setQueryData(["notification-preferences"], answer);
      setDraft(answer.channels as Channels);
    },
  });
  if (!prefs.data || draft === null) return <ErrorText error={prefs.error} />;
  const urgent = prefs.data.urgent;
  return (
    <form aria-label="Where each event goes" onSubmit={(e) => { e.preventDefault(); save.mutate(draft); }}>
      <h2>Where each event goes</h2>
      <p className="muted">Urgent events go to every channel. In-app always keeps the history.</p>
      <Scroll label="Channels per event">
        <table>
          <caption>Channels per event</caption>
          <thead>
            <tr><th scope="col">Event</th>{CHANNELS.map((c) => <th key={c} scope="col">{CHANNEL_LABEL[c]}</th>)}</tr>
          </thead>
          <tbody>
            {Object.keys(draft).sort().map((kind) => {
              const on = effective(draft, kind, urgent);
              const locked = urgent.includes(kind);
              return (
                <tr key={kind}>
                  <th scope="row">{kindLabel(kind)}{locked && <span className="muted"> (urgent)</span>}</th>
                  {CHANNELS.map((c) => (
                    <td key={c}>
                      <input
                        type="checkbox"
                        aria-label={`${kindLabel(kind)} by ${CHANNEL_LABEL[c]}`}
                        checked={on.includes(c)}
                        disabled={locked || c === "in_app"}
                        onChange={(e) => setDraft(toggle(draft, kind, c, e.target.checked, urgent))}
                      />
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </Scroll>
      <button type="submit" disabled={save.isPending}>Save preferences</button>
      {save.isSuccess && <span role="status"> Saved.</span>}
      <ErrorText error={save.error} />
    </form>
  );
}
