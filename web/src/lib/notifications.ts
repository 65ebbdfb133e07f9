/**
 * Notification preferences as the page edits them: a kind's chosen channels, with in-app always on
 * (it is the history) and urgent kinds going everywhere whatever is chosen, as the server applies
 * them (chalicelib/domain/notifications.py). Kept pure so the rules are unit-tested.
 */

export type Channel = "in_app" | "telegram" | "email";
export const CHANNELS: readonly Channel[] = ["in_app", "telegram", "email"];
export type Channels = Record<string, Channel[]>;

/** "entry_done" -> "Entry done", "mtm_exit" -> "MTM exit". */
export function kindLabel(kind: string): string {
  const words = kind.replace(/_/g, " ").replace(/\bmtm\b/g, "MTM");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The channels a kind's events actually reach. */
export function effective(channels: Channels, kind: string, urgent: readonly string[]): Channel[] {
  if (urgent.includes(kind)) return [...CHANNELS];
  const chosen = new Set<Channel>(channels[kind] ?? []);
  chosen.add("in_app");
  return CHANNELS.filter((c) => chosen.has(c));
}

/** Turn one channel on or off for one kind; in-app stays on, urgent kinds do not change. */
export function toggle(
  channels: Channels, kind: string, channel: Channel, on: boolean, urgent: readonly string[],
): Channels {
  if (channel === "in_app" || urgent.includes(kind)) return channels;
  const chosen = new Set<Channel>(channels[kind] ?? []);
  if (on) chosen.add(channel);
  else chosen.delete(channel);
  chosen.add("in_app");
  return { ...channels, [kind]: CHANNELS.filter((c) => chosen.has(c)) };
}

/** "telegram: SENT, email: FAILED: throttled" for a notification's deliveries. */
export function describeDeliveries(deliveries: Record<string, string> | undefined): string {
  const parts = Object.entries(deliveries ?? {}).map(([channel, state]) => `${channel}: ${state}`);
  return parts.length ? parts.join(", ") : "in-app only";
}
