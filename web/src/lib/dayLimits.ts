/**
 * Account day limits (PATCH /accounts/{id}): rupees as typed, an empty box clears the limit.
 * The server validates (> 0, paise at most) and names the field on a 400; here we only trim.
 */
export interface DayLimitsForm {
  loss: string;
  profit: string;
}

export function dayLimitsBody(form: DayLimitsForm): {
  daily_loss_limit: string | null;
  daily_profit_target: string | null;
} {
  return {
    daily_loss_limit: form.loss.trim() || null,
    daily_profit_target: form.profit.trim() || null,
  };
}

export function dayLimitsForm(account: {
  daily_loss_limit?: string | null;
  daily_profit_target?: string | null;
}): DayLimitsForm {
  return { loss: account.daily_loss_limit ?? "", profit: account.daily_profit_target ?? "" };
}

/** The card's line: the limits in force, or that none is set. */
export function dayLimitsText(account: {
  daily_loss_limit?: string | null;
  daily_profit_target?: string | null;
}): string {
  const parts = [
    account.daily_loss_limit ? `loss limit Rs ${account.daily_loss_limit}` : null,
    account.daily_profit_target ? `profit target Rs ${account.daily_profit_target}` : null,
  ].filter(Boolean);
  return parts.length ? `Day limits: ${parts.join(", ")}` : "No day limits";
}
