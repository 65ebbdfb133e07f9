"""Paper accounts at the simulator: opened with one call, no app, no login, kept across restarts."""

from datetime import timedelta

import httpx

from sim.exchange import SimExchange
from sim.servers import start_fake_broker


def test_a_paper_account_opens_with_a_lasting_session_once(start_server, exchange, clock):
    server = start_server("kite")
    url = f"{server.login_url_base}/_sim/paper/accounts"
    first = httpx.post(url, json={"client_id": "acc-1"}).json()
    again = httpx.post(url, json={"client_id": "acc-1"}).json()
    assert first == again and first["api_key"] == "paper"
    assert "acc-1" in exchange.accounts()
    clock.advance(days=400)  # no daily login
    headers = {"Authorization": f"token paper:{first['access_token']}", "X-Kite-Version": "3"}
    profile = httpx.get(f"{server.base_url}/user/margins", headers=headers)
    assert profile.status_code == 200, profile.text
    assert httpx.post(url, json={}).status_code == 400


def test_paper_sessions_survive_a_restart(tmp_path, clock):
    server = start_fake_broker("kite", SimExchange(seed=7, clock=clock, state_dir=tmp_path))
    token = server.open_paper_account("acc-2").token
    server.stop()
    restarted = start_fake_broker("kite", SimExchange(seed=7, clock=clock, state_dir=tmp_path))
    try:
        assert restarted.session_for(token) is not None
        assert "acc-2" in restarted.exchange.accounts()
        assert restarted.open_paper_account("acc-2").token == token
        assert restarted.session_for(token).expires_at > clock() + timedelta(days=3000)
    finally:
        restarted.stop()
