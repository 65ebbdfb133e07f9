"""Envelope encryption of broker secrets with KMS.

KMS generates a data key per secret; the secret is sealed with AES-256-GCM under that key and only the
KMS-encrypted copy of the key is stored beside it. The user id is bound as additional authenticated
data (and as the KMS encryption context) so a blob copied to another user's item cannot be opened.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.errors import DependencyUnavailable


class EnvelopeCipher:
    def __init__(self, kms_client: Any, key_id: str) -> None:
        self._kms = kms_client
        self._key_id = key_id

    def seal(self, secrets: dict[str, str], owner: str) -> dict[str, str]:
        try:
            data_key = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext={"owner": owner}
            )
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailable("key service unavailable; retry shortly") from error
        nonce = os.urandom(12)
        sealed = AESGCM(data_key["Plaintext"]).encrypt(
            nonce, json.dumps(secrets).encode(), owner.encode()
        )
        return {
            "key": base64.b64encode(data_key["CiphertextBlob"]).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "data": base64.b64encode(sealed).decode(),
        }

    def open(self, blob: dict[str, str], owner: str) -> dict[str, str]:
        try:
            data_key = self._kms.decrypt(
                CiphertextBlob=base64.b64decode(blob["key"]),
                EncryptionContext={"owner": owner},
            )
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailable("key service unavailable; retry shortly") from error
        plain = AESGCM(data_key["Plaintext"]).decrypt(
            base64.b64decode(blob["nonce"]), base64.b64decode(blob["data"]), owner.encode()
        )
        opened: dict[str, str] = json.loads(plain)
        return opened
