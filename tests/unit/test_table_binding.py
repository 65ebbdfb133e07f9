"""The models' table binding: binding again to the same table keeps the connections, and every
DynamoDB client of the process comes from one botocore session (a session per model class per
thread cost a cold process seconds). No request is made: clients are built, never called."""

from __future__ import annotations

import threading
from typing import Any

import pynamodb.connection.base as pynamodb_connection

from chalicelib.adapters.dynamo.models import (
    BaseItem,
    OrderItem,
    all_models,
    bind_table,
    transaction_connection,
)

HOST = "http://127.0.0.1:9"  # never contacted


def test_binding_again_to_the_same_table_keeps_the_connections():
    bind_table("binding-test", "ap-south-1", HOST, read_timeout=3.0)
    first = OrderItem._get_connection()
    transactions = transaction_connection()

    bind_table("binding-test", "ap-south-1", HOST, read_timeout=3.0)
    assert OrderItem._get_connection() is first
    assert transaction_connection() is transactions

    bind_table("binding-test", "ap-south-1", HOST, read_timeout=4.0)  # other timeouts: rebound
    again = OrderItem._get_connection()
    assert again is not first
    assert again.connection._read_timeout_seconds == 4.0
    assert transaction_connection() is not transactions

    bind_table("other-table", "ap-south-1", HOST, read_timeout=4.0)
    assert OrderItem._get_connection().table_name == "other-table"
    assert BaseItem.Meta.table_name == "other-table"


def test_every_client_comes_from_one_shared_session_whichever_thread_opens_it(monkeypatch):
    made: list[Any] = []
    real = pynamodb_connection.get_session

    def counted() -> Any:
        made.append(threading.get_ident())
        return real()

    monkeypatch.setattr(pynamodb_connection, "get_session", counted)  # PynamoDB's own sessions
    # a client without credentials is rebuilt by PynamoDB on each use, from a thread's session
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    bind_table("shared-session-test", "ap-south-1", HOST)
    clients: dict[str, Any] = {}

    def open_all() -> None:
        for model in all_models():
            clients[f"{model.__name__}@{threading.get_ident()}"] = (
                model._get_connection().connection.client
            )
        clients[f"transactions@{threading.get_ident()}"] = transaction_connection().client

    threads = [threading.Thread(target=open_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert made == []  # PynamoDB never built a session of its own
    per_thread = len(all_models()) + 1
    assert len(clients) == 4 * per_thread
    # one connection per class, its client built once and shared by every thread
    assert len({id(c) for c in clients.values()}) == per_thread
