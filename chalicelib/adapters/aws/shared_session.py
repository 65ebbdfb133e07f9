"""One botocore session builds every DynamoDB client of the process.

PynamoDB keeps a connection per model class and builds its client from a botocore session local to
the calling thread. Each new session loads botocore's endpoint rules and registers its handlers
again (about 0.25 s of CPU), so a cold process (a Lambda cold start, a container bound afresh)
spent seconds building one session per model class before its first read or write. A botocore
client is thread-safe and a session is not (concurrent ``create_client`` calls on one session race
in its lazy loaders), so the clients are built one at a time under a lock and then shared.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.session import Session, get_session

_LOCK = threading.Lock()
_SESSION: list[Session] = []


def with_client(connection: Any) -> Any:
    """``connection`` (a PynamoDB ``Connection``) with its client built, from the shared session."""
    if connection._client is None:
        with _LOCK:
            if connection._client is None:
                if not _SESSION:
                    _SESSION.append(get_session())
                connection._local.session = _SESSION[0]  # read by its ``client`` on this thread
                connection.client  # noqa: B018  (builds and caches the client)
    return connection
