"""Sealing secrets (API keys, broker access tokens) before they are stored, and opening them.

The KMS envelope (``adapters/aws/secrets.py``) implements it; ``owner`` binds a blob to its user
(the encryption context), so one user's blob never opens as another's.
"""

from __future__ import annotations

from typing import Any, Protocol


class Cipher(Protocol):
    def seal(self, secrets: dict[str, str], owner: str) -> dict[str, str]: ...

    def open(self, blob: dict[str, Any], owner: str) -> dict[str, str]: ...
