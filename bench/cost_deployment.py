"""What a legal deployment costs: the tick path (bench/cost_model.py) plus everything a deployment
pays whether or not it trades, for the ways out with the broker-registered static IP.

Since 2026-04-01 brokers take orders only from a registered IP, so the Lambdas sit in private
subnets behind an Elastic IP. Modes compared (infra/network.tf, infra/nat_instance.tf):
  nat_instance  a t4g.nano NAT instance (ASG of one) with its Elastic IP: the default
  nat_gateway   managed NAT gateways, one per zone of the two Lambda subnets, each with an EIP
  engine        engine mode: the clock process on the NAT instance (t4g.micro), no tick Lambdas

Prices are dated data (bench/prices.json, each with its source and date). Usage that the
benchmarks do not measure (bytes through the NAT, log volume) is an assumption stated in
ASSUMED below. Output: bench/results/cost_deployment.json and a printed table.

Run: .venv/bin/python bench/cost_deployment.py   (after bench/cost_model.py's inputs exist)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import cost_model  # noqa: E402

RESULTS = BENCH / "results"
HOURS_PER_MONTH = 730
TRADING_DAYS_PER_MONTH = 21
DAYS_PER_MONTH = 30.4
#: Usage the benchmarks do not measure, per trading day, per user (10 strategies, 2 accounts).
ASSUMED = {
    # orders (~3 KB each with TLS) are tiny; the risk monitor's order-book and quote polls, the
    # daily logins and the AWS API calls that leave through the NAT (KMS, SNS, Step Functions)
    # dominate: 0.2 GB a trading day is a generous bound for one user.
    "nat_gb_per_user_day": 0.2,
    "log_gb_per_user_day": 0.02,
    "kms_decrypts_per_user_day": 750,  # adapters rebuilt once a minute per account (cost.md)
}
#: Risk monitor (docs/cost.md, issue #6): one Lambda per deployment, 75 runs of 285 s at 256 MB,
#: 4 shard Queries a second; per guarded strategy and account, ~1 RRU per cycle.
MONITOR_GB_S = 75 * 285 * 0.25
MONITOR_CYCLES = 21_375
KILL_DRIVER_GB_S = 480 * 0.3 * 0.125
PLATFORM_ALARMS = 13  # tick, DLQ, recovery, 2 DynamoDB throttles, 4 x (errors, throttles)
NAT_INSTANCE_ALARMS = 2
EBS_GB = 8


def load_prices() -> dict[str, float]:
    data = json.loads((BENCH / "prices.json").read_text())
    return {name: float(p["value"]) for name, p in data["prices"].items()}


def serverless(
    users: int, guarded: bool, price: dict[str, float], pm: dict[str, float], engine: bool = False
) -> dict:
    """Per trading day: the tick path for `users` (10 strategies, 2 accounts each), the risk
    monitor, the kill-switch driver, KMS requests and logs. In engine mode only their DynamoDB
    requests remain (the clock process does the rest on the instance)."""
    rpt = json.loads((RESULTS / "requests_per_tick.json").read_text())
    timing = json.loads((RESULTS / "timing.json").read_text())
    tick = cost_model.scenario(users, 10, 2, rpt, timing)
    books_rru = 10 * 2 * MONITOR_CYCLES * users if guarded else 0
    lambda_gb_s = 0.0 if engine else MONITOR_GB_S + KILL_DRIVER_GB_S
    tick_usd = tick["usd_per_day_total"]
    if engine:
        tick_usd = tick["usd_per_day"]["dynamodb_writes"] + tick["usd_per_day"]["dynamodb_reads"]
    return {
        "tick_path": tick_usd,
        "risk_monitor": lambda_gb_s * pm["lambda_gb_s"]
        + (MONITOR_CYCLES * 2 + books_rru) * pm["ddb_read_unit"],
        "kms_requests": ASSUMED["kms_decrypts_per_user_day"] * users * price["kms_request"],
        "logs": ASSUMED["log_gb_per_user_day"] * users * price["cloudwatch_logs_gb"],
        "sfn_transitions": 0 if engine else tick["sfn_transitions"],
        "lambda_gb_s": (0.0 if engine else tick["lambda_gb_s"]) + lambda_gb_s,
    }


def egress(mode: str, users: int, price: dict[str, float]) -> dict[str, float]:
    """Per month: what the way out with the static IP costs."""
    gb_month = ASSUMED["nat_gb_per_user_day"] * users * TRADING_DAYS_PER_MONTH
    if mode in ("nat_instance", "engine"):
        kind = "ec2_t4g_micro_hour" if mode == "engine" else "ec2_t4g_nano_hour"
        return {
            "nat_instance": price[kind] * HOURS_PER_MONTH,
            "elastic_ip": price["public_ipv4_hour"] * HOURS_PER_MONTH,
            "ebs_root_8gb_gp3": price["ebs_gp3_gb_month"] * EBS_GB,
            "data_out": gb_month * price["data_out_internet_gb"],
            "cross_zone": gb_month / 2 * price["cross_az_gb"],  # one Lambda subnet is remote
            "nat_alarms": (NAT_INSTANCE_ALARMS + (mode == "engine"))
            * price["cloudwatch_alarm_month"],
        }
    return {
        "nat_gateways_x2": 2 * price["nat_gateway_hour"] * HOURS_PER_MONTH,
        "elastic_ips_x2": 2 * price["public_ipv4_hour"] * HOURS_PER_MONTH,
        "nat_data_processing": gb_month * price["nat_gateway_gb"],
        "data_out": gb_month * price["data_out_internet_gb"],
    }


def deployment(mode: str, users: int, guarded: bool, price, pm) -> dict[str, Any]:
    day = serverless(users, guarded, price, pm, engine=mode == "engine")
    per_month = {
        name: value * TRADING_DAYS_PER_MONTH
        for name, value in day.items()
        if name not in ("sfn_transitions", "lambda_gb_s")
    }
    per_month |= egress(mode, users, price)
    per_month["kms_key"] = price["kms_key_month"]
    per_month["platform_alarms"] = PLATFORM_ALARMS * price["cloudwatch_alarm_month"]
    month = sum(per_month.values())
    # The same month inside the always-free tiers a self-hosted account normally has.
    alarms = PLATFORM_ALARMS + {"nat_instance": 2, "engine": 3}.get(mode, 0)
    transitions = day["sfn_transitions"] * TRADING_DAYS_PER_MONTH
    free = (
        min(alarms, 10) * price["cloudwatch_alarm_month"]
        + min(transitions, 4000) * pm["sfn_transition"]
        + min(day["lambda_gb_s"] * TRADING_DAYS_PER_MONTH, 400_000) * pm["lambda_gb_s"]
        + min(per_month["data_out"], 100 * price["data_out_internet_gb"])
        + min(per_month["kms_requests"], 20_000 * price["kms_request"])
    )
    return {
        "mode": mode, "users": users, "guarded_all_session": guarded,
        "usd_per_month": {k: round(v, 4) for k, v in per_month.items()},
        "usd_month": round(month, 2),
        "usd_per_calendar_day": round(month / DAYS_PER_MONTH, 3),
        "usd_per_trading_day": round(month / TRADING_DAYS_PER_MONTH, 3),
        "usd_per_trading_day_with_free_tiers": round((month - free) / TRADING_DAYS_PER_MONTH, 3),
        "usd_per_calendar_day_with_free_tiers": round((month - free) / DAYS_PER_MONTH, 3),
        "usd_per_user_trading_day": round(month / TRADING_DAYS_PER_MONTH / users, 3),
    }  # fmt: skip


def main() -> None:
    price, pm = load_prices(), cost_model.PRICE
    rows = [
        deployment(mode, users, guarded, price, pm)
        for mode in ("nat_instance", "nat_gateway", "engine")
        for users in (1, 5)
        for guarded in (False, True)
    ]
    for r in rows:
        print(f"{r['mode']:13} users {r['users']} guarded {r['guarded_all_session']!s:5} "
              f"${r['usd_month']:7.2f}/month  ${r['usd_per_calendar_day']:.3f}/calendar day  "
              f"${r['usd_per_trading_day']:.3f}/trading day; in the free tiers "
              f"${r['usd_per_calendar_day_with_free_tiers']:.3f} / "
              f"${r['usd_per_trading_day_with_free_tiers']:.3f}")  # fmt: skip
    for r in rows[:2]:
        print(json.dumps(r["usd_per_month"], indent=1))
    out = {"assumed": ASSUMED, "prices": "bench/prices.json", "rows": rows}
    (RESULTS / "cost_deployment.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {RESULTS / 'cost_deployment.json'}")


if __name__ == "__main__":
    main()
