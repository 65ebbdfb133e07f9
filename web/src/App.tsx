import { useQueryClient } from "@tanstack/react-query";
import { KillSwitch } from "./components/KillSwitch";
import { useApp, useServerNow, useTokens } from "./context";
import { formatDateTime } from "./lib/time";
import { AccountsPage } from "./pages/AccountsPage";
import { AuthPage } from "./pages/AuthPage";
import { BuilderPage } from "./pages/BuilderPage";
import { NotificationsPage } from "./pages/NotificationsPage";
import { OrdersPage } from "./pages/OrdersPage";
import { PositionsPage } from "./pages/PositionsPage";
import { TodayPage } from "./pages/TodayPage";
import { useRoute } from "./router";

const PAGES = [
  { page: "today", label: "Today" },
  { page: "accounts", label: "Accounts" },
  { page: "builder", label: "Strategies" },
  { page: "positions", label: "Positions & P&L" },
  { page: "orders", label: "Orders" },
  { page: "notifications", label: "Notifications" },
];

export function App() {
  const tokens = useTokens();
  const route = useRoute();
  if (!tokens) return <AuthPage />;
  return <Shell page={route.page} />;
}

function Shell({ page }: { page: string }) {
  const { session, config } = useApp();
  const queries = useQueryClient();
  const now = useServerNow();
  const route = useRoute();
  const logout = () => {
    queries.clear();
    session.signOut();
  };
  return (
    <>
      <header className="top">
        <a className="brand" href="#/today">optexec</a>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.page}>
                <a href={`#/${p.page}`} aria-current={p.page === page ? "page" : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="top-right">
          <span className="clock" aria-label="Platform time">
            {formatDateTime(now)}
            {config.stage === "local" ? " (local)" : ""}
          </span>
          <KillSwitch />
          <button type="button" className="secondary" onClick={logout}>Log out</button>
        </div>
      </header>
      <main id="main">
        {page === "accounts" && <AccountsPage params={route.params} focus={route.id} />}
        {page === "builder" && <BuilderPage id={route.id} />}
        {page === "positions" && <PositionsPage />}
        {page === "orders" && <OrdersPage params={route.params} />}
        {page === "notifications" && <NotificationsPage />}
        {!PAGES.some((p) => p.page === page && p.page !== "today") && <TodayPage />}
      </main>
    </>
  );
}
