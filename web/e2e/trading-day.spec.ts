/**
 * A trader's morning in the browser, against `make run`'s stack on a shifted clock: sign up, add
 * a paper account, build an iron condor from the template, see the preview and the payoff, watch
 * the entry fire at T and fill, see positions and P&L, engage the kill switch and see it flat.
 * Every page gets an axe-core check (no serious or critical violations) and a screenshot for docs/.
 */
import AxeBuilder from "@axe-core/playwright";
import { type Page, expect, test } from "@playwright/test";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { STACK_FILE } from "./stack.setup";

const SHOTS = resolve(import.meta.dirname, "..", "..", "docs", "screenshots");
mkdirSync(SHOTS, { recursive: true });

async function accessible(page: Page, name: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`))
    .toEqual([]);
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The platform's clock (shifted), from the API. */
async function platformNow(page: Page): Promise<Date> {
  const answer = await page.request.get(new URL("/api/health", page.url()).toString());
  return new Date(((await answer.json()) as { now: string }).now);
}

const hhmmss = (d: Date) =>
  new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Kolkata", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" }).format(d);

test("a trader runs the morning from the browser", async ({ page }) => {
  const stack = JSON.parse(readFileSync(STACK_FILE, "utf8")) as { web: string };
  test.info().annotations.push({ type: "stack", description: stack.web });
  await page.context().setExtraHTTPHeaders({});
  const started = Date.now();
  const mark = (what: string) => console.log(`e2e: ${what} at +${((Date.now() - started) / 1000).toFixed(1)} s`);
  await page.goto(`${stack.web}/`);

  // Sign up (+91 mobile, state), confirmed at once on the local stage, and signed in.
  await page.getByRole("tab", { name: "Sign up" }).click();
  await accessible(page, "sign-up");
  await page.getByLabel("Email").fill(`trader-${Date.now()}@example.in`);
  await page.getByLabel("Password").fill("Str0ng-Passw0rd!");
  await page.getByLabel("Full name").fill("Asha Rao");
  await page.getByLabel("Mobile (+91)").fill("98765 43210");
  await page.getByLabel("State / union territory").selectOption("Karnataka");
  await shoot(page, "sign-up");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: /Today/ })).toBeVisible();
  mark("signed up");

  // A paper account.
  await page.getByRole("link", { name: "Accounts" }).click();
  const add = page.getByRole("form", { name: "Add an account" });
  await add.getByLabel("Broker").selectOption("paper");
  await add.getByLabel("Client id").fill("PAPER1");
  await add.getByLabel("Label").fill("Paper one");
  await add.getByRole("button", { name: "Add account" }).click();
  await expect(page.getByRole("heading", { name: /Paper one/ })).toBeVisible();
  // The paper session is opened inside the POST. Once (one CI run) the list kept showing
  // "Session NONE" after it: a reload asks the server again, and its answer decides.
  await expect(page.getByText("VALID")).toBeVisible({ timeout: 10_000 }).catch(async () => {
    console.log("e2e: the account list showed no session; reloading once");
    await page.reload();
    await expect(page.getByText("VALID")).toBeVisible();
  });
  await accessible(page, "accounts");
  await shoot(page, "accounts");
  mark("paper account added");

  // An iron condor from the template; a server validation error lands at its field first.
  await page.getByRole("link", { name: "Strategies" }).click();
  const form = page.getByRole("form", { name: "New strategy" });
  await form.getByRole("button", { name: "Iron condor" }).click();
  await expect(form.getByLabel("Name")).toHaveValue("NIFTY iron condor");
  await form.getByRole("group", { name: "Leg 3" }).getByLabel("Strike value").fill("abc");
  await form.getByLabel("Entry time (IST, HH:MM:SS)").fill("09:30:00");
  await form.getByRole("button", { name: "Save strategy" }).click();
  const strikeError = form.getByRole("group", { name: "Leg 3" }).getByRole("alert");
  await expect(strikeError).toContainText(/decimal|number/i);
  await form.getByRole("group", { name: "Leg 3" }).getByLabel("Strike value").fill("2");
  // T: the next whole minute at least 30 s ahead of the platform's clock (planning runs 20 s ahead).
  const now = await platformNow(page);
  const entry = new Date(Math.ceil((now.getTime() + 30_000) / 60_000) * 60_000);
  await form.getByLabel("Entry time (IST, HH:MM:SS)").fill(hhmmss(entry));
  await form.getByRole("button", { name: "Save strategy" }).click();
  mark(`strategy saved, entry at ${hhmmss(entry)} IST`);

  // The preview (per account and leg) and the payoff with its figures.
  await expect(page.getByRole("heading", { name: "Preview: what would be sent now" })).toBeVisible();
  const orders = page.getByRole("table", { name: "Orders per account and leg" });
  await expect(orders.getByRole("row")).toHaveCount(5);
  await expect(orders).toContainText("NIFTY");
  await expect(page.getByRole("img", { name: "Payoff at expiry" })).toBeVisible();
  await expect(page.getByText("Max profit")).toBeVisible();
  await expect(page.locator(".figures")).toContainText(/Max loss\s*-?Rs [\d,]+\.\d\d/);
  await expect(page.locator(".figures")).toContainText(/Breakevens\s*[\d,]+\.\d\d, [\d,]+\.\d\d/);
  await accessible(page, "builder");
  await shoot(page, "builder");

  // Today: the countdown to T, then the entry fires and fills.
  await page.getByRole("link", { name: "Today" }).click();
  await expect(page.getByTestId("countdown")).toBeVisible();
  await accessible(page, "today");
  await shoot(page, "today-before");
  const execution = page.getByRole("article", { name: "ENTRY execution" });
  await expect(execution).toBeVisible({ timeout: 150_000 });
  await expect(execution.getByText("COMPLETE")).toHaveCount(5, { timeout: 60_000 }); // 4 orders + the execution
  await expect(execution).toContainText(/T\+\d+\.\d ms/);
  mark("entry filled");
  await shoot(page, "today");

  // Positions and P&L with the price source.
  await page.getByRole("link", { name: "Positions & P&L" }).click();
  const positions = page.getByRole("table", { name: /Positions traded on/ });
  await expect(positions.getByRole("row")).toHaveCount(5);
  await expect(page.getByText("Price source:")).toBeVisible();
  await expect(page.getByTestId("pnl-total")).toContainText(/Rs [\d,]+\.\d\d/);
  await accessible(page, "positions");
  await shoot(page, "positions");

  // Orders by date and status, and one order's history.
  await page.getByRole("link", { name: "Orders" }).click();
  await page.getByLabel("Status").selectOption("COMPLETE");
  const list = page.getByRole("table", { name: /Orders on/ });
  await expect(list.getByRole("row")).toHaveCount(5);
  await list.getByRole("button").first().click();
  await expect(page.getByRole("heading", { name: /history/ })).toBeVisible();
  await accessible(page, "orders");
  await shoot(page, "orders");

  // The kill switch: scope, confirmation, progress until flat.
  await page.getByRole("button", { name: /^Kill switch/ }).click();
  const dialog = page.getByRole("dialog", { name: "Kill switch" });
  await dialog.getByLabel("Everything").check();
  await dialog.getByRole("button", { name: "Continue" }).click();
  await expect(dialog.getByRole("alert")).toContainText("Square off every account and strategy");
  await dialog.getByRole("button", { name: "Yes, square off now" }).click();
  await expect(dialog.getByText("FLAT")).toBeVisible({ timeout: 60_000 });
  await accessible(page, "kill-switch");
  await shoot(page, "kill-switch");
  await dialog.getByRole("button", { name: "Close" }).click();
  mark("kill switch flat");

  await page.getByRole("link", { name: "Positions & P&L" }).click();
  await expect(positions.locator("tbody tr td:nth-child(3)")).toHaveText(["0", "0", "0", "0"]);
  await expect(page.getByTestId("pnl-total")).toContainText(/Rs [\d,]+\.\d\d/);

  // Notifications: the entry and the kill switch in the history, where each kind goes, Telegram.
  await page.getByRole("link", { name: "Notifications" }).click();
  const recent = page.getByRole("list", { name: "Recent notifications" });
  await expect(recent).toContainText("Entry done", { timeout: 30_000 });
  await expect(recent).toContainText("Kill switch engaged");
  const prefs = page.getByRole("form", { name: "Where each event goes" });
  await expect(prefs.getByLabel("Kill switch engaged by E-mail")).toBeDisabled();
  await prefs.getByLabel("Day report by E-mail").check();
  await prefs.getByRole("button", { name: "Save preferences" }).click();
  await expect(prefs.getByRole("status")).toContainText("Saved");
  await page.reload();
  await expect(page.getByRole("form", { name: "Where each event goes" }).getByLabel("Day report by E-mail"))
    .toBeChecked();
  await page.getByRole("button", { name: "Link Telegram" }).click();
  await expect(page.getByRole("link", { name: /start=/ })).toBeVisible();
  await accessible(page, "notifications");
  await shoot(page, "notifications");
  mark("notifications seen");

  // Usable at 375 px.
  await page.setViewportSize({ width: 375, height: 812 });
  await page.getByRole("link", { name: "Today" }).click();
  await expect(page.getByRole("heading", { name: /Today/ })).toBeVisible();
  await accessible(page, "today-375");
  await shoot(page, "today-375px");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);

  // Logout clears the session.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("tab", { name: "Log in" })).toBeVisible();
  mark("done");
});
