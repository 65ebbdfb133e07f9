"""Composition root: builds adapters and services once per process.

Routes and jobs ask `get_container()`; tests build a Container from their own Settings (and fakes)
and install it with `use_container()` instead of patching modules.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any

from chalicelib.adapters.aws.clients import AwsClients
from chalicelib.adapters.aws.cognito import CognitoIdentity
from chalicelib.adapters.aws.jwt_verifier import JwtVerifier
from chalicelib.adapters.aws.secrets import EnvelopeCipher
from chalicelib.adapters.brokers.dynamo_rate_limit import DynamoRateLimiter
from chalicelib.adapters.brokers.masters import AdapterMasters
from chalicelib.adapters.brokers.pooled import PooledBrokers
from chalicelib.adapters.brokers.rate_limit import OrderRateLimiter, SlidingWindowLimiter
from chalicelib.adapters.brokers.wire_lanes import HttpWireSender
from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.lease_items import LeaseRepository
from chalicelib.adapters.dynamo.models import bind_table
from chalicelib.adapters.dynamo.notifying import (
    NotifyingExecutionRepository,
    NotifyingKillSwitchRepository,
)
from chalicelib.adapters.dynamo.plan_store import DynamoPlanStore
from chalicelib.adapters.dynamo.repository import Repository, bind_clock
from chalicelib.adapters.dynamo.risk_items import RiskRepository
from chalicelib.adapters.dynamo.risk_orders import RiskOrders
from chalicelib.adapters.dynamo.tick_store import DynamoTickBatches
from chalicelib.adapters.market.synthetic_quotes import SyntheticQuotes
from chalicelib.domain.kill_switch import blocking_reason
from chalicelib.domain.market_model import MarketModel
from chalicelib.paper_wiring import paper_books, quotes_indices
from chalicelib.ports.planning import PlanStore
from chalicelib.ports.tick_batches import TickBatches
from chalicelib.services.accounts import AccountService
from chalicelib.services.baskets import BasketService
from chalicelib.services.broker_access import BrokerAccess, CachedAccess
from chalicelib.services.broker_sessions import BrokerSessionService
from chalicelib.services.clock import Clock, system_clock
from chalicelib.services.closing import BrokerLtp
from chalicelib.services.day_limits import DayLimits
from chalicelib.services.entry_blocks import EntryBlocks
from chalicelib.services.exit_guard import ExitGuard
from chalicelib.services.exits import PositionCloser
from chalicelib.services.firer import Firer, StampingLimiter
from chalicelib.services.identity import IdentityService
from chalicelib.services.instrument_refresh import InstrumentRefresh
from chalicelib.services.kill_switch import KillSwitch
from chalicelib.services.leases import Leases
from chalicelib.services.margin_check import MarginCheck
from chalicelib.services.order_builder import OrderBuilder
from chalicelib.services.planner import Planner
from chalicelib.services.preview import PreviewService
from chalicelib.services.quote_choice import QuoteChoice
from chalicelib.services.quotes import QuoteSource
from chalicelib.services.readiness import Readiness
from chalicelib.services.recovery import Recovery
from chalicelib.services.reports import Reports
from chalicelib.services.risk_engine import QUICK, RiskEngine
from chalicelib.services.schedule_view import ScheduleView
from chalicelib.services.settlement import Settlement
from chalicelib.services.strategies import StrategyService
from chalicelib.settings import Settings
from chalicelib.wiring_notifications import NotificationParts


class Container(NotificationParts):
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or platform_clock(settings)
        bind_table(
            settings.table_name,
            settings.region,
            settings.aws_endpoint_url,
            connect_timeout=settings.aws_connect_timeout,
            read_timeout=settings.aws_read_timeout,
            max_attempts=settings.aws_max_attempts,
        )
        bind_clock(self.clock)  # record stamps on the same clock

    @cached_property
    def aws(self) -> AwsClients:
        return AwsClients(self.settings)

    @cached_property
    def repo(self) -> Repository:
        return Repository(self.settings.schedule_shards)

    @cached_property
    def verifier(self) -> JwtVerifier:
        s = self.settings
        return JwtVerifier(s.jwks_url, s.jwt_issuer, s.user_pool_client_id)

    @cached_property
    def identity(self) -> IdentityService:
        s = self.settings
        cognito = CognitoIdentity(
            self.aws.client("cognito-idp"), s.user_pool_id, s.user_pool_client_id
        )
        return IdentityService(cognito, self.repo, auto_confirm=s.auto_confirm_signup)

    @cached_property
    def cipher(self) -> EnvelopeCipher:
        return EnvelopeCipher(self.aws.client("kms"), self.settings.secrets_kms_key_id)

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.repo, self.cipher, open_paper=self.broker_sessions.open_paper)

    @cached_property
    def readiness(self) -> Readiness:
        return Readiness(self.repo)

    @cached_property
    def broker_sessions(self) -> BrokerSessionService:
        import httpx

        from chalicelib.adapters.brokers.http_client import make_client
        from chalicelib.adapters.brokers.registry import build_broker
        from chalicelib.adapters.brokers.retry import make_retrying

        # The login runs inside an API request: a stalled broker must answer 503 within 5 s.
        s = self.settings
        timeout = httpx.Timeout(
            s.broker_api_read_timeout, connect=s.broker_api_connect_timeout, pool=1.0
        )
        api_broker = functools.partial(
            build_broker,
            client=make_client(timeout=timeout),
            retrying=make_retrying(attempts=2, max_delay=1.0),
        )
        return BrokerSessionService(
            repo=self.repo,
            cipher=self.cipher,
            clock=self.clock,
            public_api_url=self.settings.public_api_url,
            hosts=self.settings.broker_hosts,
            build_broker=api_broker,
            paper_engine=self.settings.paper_engine,
        )

    @cached_property
    def baskets(self) -> BasketService:
        return BasketService(self.repo)

    @cached_property
    def strategies(self) -> StrategyService:
        return StrategyService(self.repo, self.clock)

    @cached_property
    def schedule_view(self) -> ScheduleView:
        return ScheduleView(self.repo)

    @cached_property
    def market(self) -> MarketModel:
        # Computed rules plus the broker masters: today's cached files now, the rest when the
        # morning refresh runs or an adapter that needs a token is built (instrument_refresh.py).
        return self.instruments.warm()

    @cached_property
    def instruments(self) -> InstrumentRefresh:
        s = self.settings
        return InstrumentRefresh(
            brokers=s.instrument_brokers,
            hosts=s.broker_hosts,
            clock=self.clock,
            cache_dir=s.instrument_cache_dir,
            allow_default_hosts=s.stage not in LOCAL_STAGES,  # never the real brokers locally
            sources=AdapterMasters(),
        )

    @cached_property
    def quotes(self) -> QuoteSource:
        # Labelled synthetic quotes until broker quotes are connected (broker issue).
        return SyntheticQuotes()

    @cached_property
    def preview(self) -> PreviewService:
        return PreviewService(
            self.repo, self.market, self.quotes, live_quotes=self.quote_choice.live_quotes
        )

    # -- execution ---------------------------------------------------------------------------
    @cached_property
    def limiter(self) -> StampingLimiter:
        # One per process: every adapter of every strategy shares each account's budget; the
        # firer reads when each request was granted (its true send time).
        # On AWS many fire Lambdas send for one account at once: the budget lives in the table.
        # Locally one process sends everything, so the in-process window is the whole truth.
        inner: OrderRateLimiter = (
            SlidingWindowLimiter(self.settings.order_rate)
            if self.settings.stage in LOCAL_STAGES
            else DynamoRateLimiter(self.settings.order_rate)
        )
        return StampingLimiter(inner, wall=self.clock)

    @cached_property
    def broker_access(self) -> BrokerAccess:
        return BrokerAccess(
            repo=self.repo,
            cipher=self.cipher,
            hosts=self.settings.broker_hosts,
            clock=self.clock,
            # one client per broker and the process's limiter; loads a token dialect's master first
            build=PooledBrokers(self.limiter, self.instruments.build_broker),
            paper=paper_books(self) if self.settings.paper_engine == "book" else None,
        )

    @cached_property
    def executions(self) -> ExecutionRepository:
        # Every recorded settlement / risk event is also queued for the trader's notifications.
        return NotifyingExecutionRepository(
            self.repo, lambda item, event: self.notifications.execution_event(item, event)
        )

    @cached_property
    def plan_store(self) -> PlanStore:
        return DynamoPlanStore(self.repo, self.executions)

    @cached_property
    def tick_batches(self) -> TickBatches:
        return DynamoTickBatches()

    @cached_property
    def planner(self) -> Planner:
        return Planner(
            store=self.plan_store,
            builder=OrderBuilder(self.market, self.quotes),
            owner=f"{self.settings.stage}:{os.getpid()}",
            quotes_for=self.quote_choice.first_live,
            kill_switch=self._kill_switch_check,
            pre_entry=self.margin_check,
            exit_builder=lambda uid, strategy_id, brokers, at: self.closer.exit_orders(
                uid, strategy_id, at=at
            ),
            clock=self.clock,
            on_waiting=self._arm_waiting,
        )

    def _arm_waiting(self, uid: str, execution_sk: str) -> Any:
        from chalicelib.jobs import risk as risk_jobs  # the job imports the container

        return risk_jobs.arm(self, uid, execution_sk)

    def _kill_switch_check(self, uid: str) -> Callable[[str, str], str | None]:
        return functools.partial(blocking_reason, self.kill_switch.active(uid))

    @cached_property
    def quote_choice(self) -> QuoteChoice:
        """Which live quotes the planner, the preview and the P&L use (services/quote_choice.py)."""
        return QuoteChoice(
            self.repo, self.broker_access.adapter_for, lambda: self.market, self.quotes,
            quotes_indices,
        )  # fmt: skip

    def quotes_of(self, uid: str) -> QuoteSource:
        """The prices a user's P&L is marked at (``QuoteChoice.quotes_of``)."""
        return self.quote_choice.quotes_of(uid)

    @cached_property
    def firer(self) -> Firer:
        return Firer(
            adapter_for=self.broker_access.adapter,
            market=self.market,
            wall=self.clock,
            stamps=self.limiter,
            before_send=ExitGuard(
                self.risk,
                self.leases,
                self.risk.settlement,
                alert=self.alert,
                store=self.executions,
            ),
            executions=self.executions,
            wire=HttpWireSender(),
            alert=self.alert,
        )

    @cached_property
    def recovery(self) -> Recovery:
        # One status look per order and a short deadline: the sweep runs every few seconds.
        settlement = Settlement(self.executions, self.repo, self.closer, self.clock, backoff=QUICK)
        return Recovery(
            self.executions, self.repo, settlement, self.firer, self.clock, alert=self.alert,
            risk_orphans=lambda uid, orders, now: self.risk.resolve_orphans(uid, orders, now),
        )  # fmt: skip

    def alert(self, subject: str, details: dict[str, Any]) -> None:
        """An operator alert: the alarm topic on AWS; the log only where none is configured."""
        topic = self.settings.alarm_topic_arn
        if topic:
            self.aws.client("sns").publish(
                TopicArn=topic, Subject=subject[:100], Message=json.dumps(details, default=str)
            )

    # -- settlement, exits, kill switch --------------------------------------------------------
    @cached_property
    def closer(self) -> PositionCloser:
        return PositionCloser(
            self.executions, self.broker_access, self.market, BrokerLtp(), self.clock
        )

    @cached_property
    def settlement(self) -> Settlement:
        return Settlement(self.executions, self.repo, self.closer, self.clock)

    @cached_property
    def leases(self) -> Leases:
        """The close lease every closer takes per (user, strategy, account): services/leases.py."""
        return Leases(LeaseRepository(), self.clock)

    @cached_property
    def kill_switch(self) -> KillSwitch:
        switches = NotifyingKillSwitchRepository(
            lambda item, stage: self.notifications.kill_switch(item, stage)
        )
        # Its own settlement with a short backoff: a pass runs inside the HTTP request first,
        # and what it cannot settle quickly is left to the driver's next pass.
        # It may record a never-received exit FAILED: the same pass then closes what is held.
        settlement = Settlement(
            self.executions, self.repo, self.closer, self.clock, backoff=QUICK, fail_closing=True
        )
        return KillSwitch(
            switches, self.repo, self.executions, settlement, self.clock, self.leases,
            risk=self.risk,
        )  # fmt: skip

    @cached_property
    def margin_check(self) -> MarginCheck:
        tell = self.notifications.publish
        return MarginCheck(self.broker_access.adapter, self.market, self.clock, tell, self.alert)

    @cached_property
    def day_limits(self) -> DayLimits:
        notify = self.notifications.publish
        return DayLimits(
            self.repo, self.executions, self.closer, self.kill_switch, self.clock, notify=notify
        )

    @cached_property
    def reports(self) -> Reports:
        """Executions, orders, positions and P&L as the API shows them."""
        return Reports(self.executions, self.risk.books, self.clock, self.quotes_of)

    # -- risk management -----------------------------------------------------------------------
    @cached_property
    def risk(self) -> RiskEngine:
        # Its own settlement: the monitor polls with a short backoff and must not share state
        # with the slot's settlement thread,
        # and the monitor asks for the same adapters every second: they are cached a minute.
        closer = PositionCloser(
            self.executions, CachedAccess(self.broker_access), self.market, BrokerLtp(), self.clock
        )
        settlement = Settlement(self.executions, self.repo, closer, self.clock, backoff=QUICK)
        return RiskEngine(
            RiskRepository(self.settings.schedule_shards), self.repo, settlement, self.clock,
            RiskOrders(self.executions), leases=self.leases,
            entry_block=EntryBlocks(
                lambda uid, strategy_id, account: self.kill_switch.blocks(uid, strategy_id, account),
                lambda uid, account: self.day_limits.blocks(uid, account),
            ),
        )  # fmt: skip


def platform_clock(settings: Settings) -> Clock:
    """The clock every service of the process reads: the wall clock, or the shifted one."""
    if settings.clock_shift is None:
        return system_clock
    return settings.clock_shift.clock()


LOCAL_STAGES = frozenset({"local", "test"})
_lock = threading.Lock()
_container: Container | None = None


def get_container() -> Container:
    global _container
    with _lock:
        if _container is None:
            _container = Container(Settings.from_env())
        return _container


def use_container(container: Container | None) -> None:
    """Install a container (tests, the local runner); None resets to lazy construction."""
    global _container
    with _lock:
        _container = container
