import { describe, expect, it } from "vitest";
import { parseHash } from "./router";

describe("hash routes", () => {
  it("reads the page, the id and the query", () => {
    expect(parseHash("")).toMatchObject({ page: "today", id: null });
    const orders = parseHash("#/orders?date=2026-11-30&status=COMPLETE");
    expect(orders.page).toBe("orders");
    expect(orders.params.get("status")).toBe("COMPLETE");
  });

  it("opens a readiness message's login link on the account it names", () => {
    expect(parseHash("#/accounts/A1/login")).toMatchObject({ page: "accounts", id: "A1" });
  });
});
