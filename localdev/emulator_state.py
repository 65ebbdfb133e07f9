"""The emulator's memory on disk: moto keeps every service in process memory, so `make run` would
forget users, keys and tables at each stop. This module snapshots moto's backends to one file
under .run/ at most every half second after a change and loads it back when the emulator starts.

A snapshot is taken under a write lock that keeps requests out for the few milliseconds pickling
takes (requests share a read lock), so it never sees a half-applied call; it is written to a
temporary file and renamed over the last one, so a SIGKILL leaves either snapshot whole. Read-only
calls (Get*, Describe*, List*, Query, Scan, Decrypt ...) do not mark the state dirty, so the price
monitor's polling costs nothing. What moto cannot pickle (RSA keys of Cognito and KMS, locks) is
reduced to PEM bytes or rebuilt fresh.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

log = logging.getLogger("emulator.state")
SNAPSHOT = "moto-state.pickle"
READ_ONLY_PREFIXES = (
    "Get", "BatchGet", "Describe", "List", "Query", "Scan", "Decrypt", "Encrypt",
    "GenerateDataKey", "Validate", "Lookup", "Search", "Test",
)  # fmt: skip
_PRIVATE = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
_PUBLIC = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)
_LOCKS: dict[type, Callable[[], Any]] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _public_key(pem: bytes) -> Any:
    return serialization.load_pem_public_key(pem)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _PRIVATE):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _private_key, (pem,)
        if isinstance(obj, _PUBLIC):
            pem = obj.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _public_key, (pem,)
        make = _LOCKS.get(type(obj))
        if make is not None:
            return make, ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, threading.Event):
            return threading.Event, ()
        return NotImplemented


def dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


class ReadWriteLock:
    """Many readers (requests) or one writer (the snapshot)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    def acquire_read(self) -> None:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def acquire_write(self, timeout: float) -> bool:
        """False when readers did not drain in time (a request waiting on another request,
        as Step Functions tasks call back into the emulator): the writer backs off."""
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._writing = True
            if self._cond.wait_for(lambda: not self._readers, timeout):
                return True
            self._writing = False
            self._cond.notify_all()
            return False

    def release_write(self) -> None:
        with self._cond:
            self._writing = False
            self._cond.notify_all()


def _live_backend_dicts() -> list[tuple[tuple[str, str], Any]]:
    """Every moto BackendDict in use, keyed by (module, global name) so a new process finds it."""
    from moto.core.base_backend import BackendDict

    found = []
    for backend_dict in list(BackendDict._instances):
        module = importlib.import_module(backend_dict.backend.__module__)
        for name, value in vars(module).items():
            if value is backend_dict:
                found.append(((module.__name__, name), backend_dict))
                break
    return found


def is_read_only(environ: dict[str, Any]) -> bool:
    """A call that cannot change the emulator's state (so no snapshot is needed after it)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    action = target.rpartition(".")[2]
    return bool(action) and action.startswith(READ_ONLY_PREFIXES)


class Snapshots:
    """Load, keep and write the emulator's state under ``state_dir``."""

    def __init__(self, state_dir: Path, interval: float = 0.5) -> None:
        self.path = Path(state_dir) / SNAPSHOT
        self.interval = interval
        self.lock = ReadWriteLock()
        self.dirty = threading.Event()
        self.stop = threading.Event()
        self._failed: set[str] = set()

    # -- requests --------------------------------------------------------------------------
    def wrap(self, app: WsgiApp) -> WsgiApp:
        def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            self.lock.acquire_read()
            try:
                return list(app(environ, start_response))  # the body is built inside the lock
            finally:
                if not is_read_only(environ):
                    self.dirty.set()
                self.lock.release_read()

        return guarded

    # -- disk ------------------------------------------------------------------------------
    def restore(self) -> int:
        """Load the last snapshot into moto's backends; returns how many services came back."""
        try:
            blobs: dict[tuple[str, str], bytes] = pickle.loads(self.path.read_bytes())
        except FileNotFoundError:
            return 0
        restored = 0
        for (module_name, name), blob in blobs.items():
            try:
                live = getattr(importlib.import_module(module_name), name)
                saved: dict[str, dict[str, Any]] = pickle.loads(blob)
            except Exception:
                log.exception("emulator state: %s.%s could not be restored", module_name, name)
                continue
            dict.clear(live)
            for account_id, regions in saved.items():
                per_account = live[account_id]  # registers the BackendDict as in use
                for region, backend in regions.items():
                    dict.__setitem__(per_account, region, backend)
            restored += 1
        return restored

    def save(self) -> int:
        """Write every backend in use to the snapshot file, atomically; returns its size
        (-1 when requests kept the state busy: it stays dirty and is tried again)."""
        if not self.lock.acquire_write(timeout=2.0):
            return -1
        try:
            self.dirty.clear()
            blobs = {}
            for key, backend_dict in _live_backend_dicts():
                state = {account: dict(regions) for account, regions in backend_dict.items()}
                try:
                    blobs[key] = dumps(state)
                except Exception as error:
                    if key[1] not in self._failed:  # say it once, not every half second
                        self._failed.add(key[1])
                        log.warning("emulator state: %s is not kept: %s", key[1], error)
        finally:
            self.lock.release_write()
        payload = pickle.dumps(blobs, protocol=pickle.HIGHEST_PROTOCOL)
        _write_atomic(self.path, payload)
        return len(payload)

    def run(self) -> None:
        """Save after each change, at most every ``interval`` seconds, until ``stop``."""
        while not self.stop.is_set():
            if self.dirty.wait(self.interval) and not self.stop.is_set():
                try:
                    self.save()
                except Exception:
                    log.exception("emulator state: snapshot failed")
                self.stop.wait(self.interval)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="emulator-snapshots", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """The last write on a clean stop."""
        self.stop.set()
        if self.dirty.is_set():
            self.save()


def _write_atomic(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
