"""One key per purpose, derived from ``MINZHENG_SECRET_KEY``.

Each purpose (residents' pseudonyms, the web chat's cookie, the console's CSRF tokens, data
sealed at rest such as a resident's chat id or phone number) has its own key, so rotating one
does not orphan the others: ``MINZHENG_KEY_VERSIONS=chat-cookie=2`` signs new web-chat cookies
with a fresh key (old cookies start fresh sessions) and leaves pseudonyms and sealed data alone.

Version 0 is the secret itself, as the service used it before keys were derived: pseudonyms,
cookies and CSRF tokens stay at 0 by default so that data kept under them stays linked to its
resident (``/stop`` still finds it). Sealed data start at version 1; what was sealed under an
older version still opens, since every version derives from the same secret, and is sealed
anew under the current one when next written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Purpose(StrEnum):
    PSEUDONYM = "pseudonym"
    CHAT_COOKIE = "chat-cookie"
    CSRF = "csrf"
    SEALED = "sealed"


DEFAULT_VERSIONS: Mapping[Purpose, int] = {
    Purpose.PSEUDONYM: 0,
    Purpose.CHAT_COOKIE: 0,
    Purpose.CSRF: 0,
    Purpose.SEALED: 1,
}
NONCE_BYTES = 12


class SealBroken(ValueError):
    """Sealed text that this secret did not seal, or that was altered."""


def parse_versions(text: str) -> dict[Purpose, int]:
    """``pseudonym=1,sealed=2`` → versions; a clear error for anything else."""
    versions: dict[Purpose, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, number = item.partition("=")
        try:
            purpose = Purpose(name.strip())
        except ValueError:
            names = ", ".join(p.value for p in Purpose)
            raise ValueError(f"unknown key purpose {name.strip()!r} (known: {names})") from None
        if not sep or not number.strip().isdigit() or len(number.strip()) > 4:
            raise ValueError(f"{purpose.value}: a version is a whole number, e.g. {purpose}=2")
        versions[purpose] = int(number)
    if versions.get(Purpose.SEALED) == 0:
        raise ValueError("sealed: versions start at 1")
    return versions


@dataclass(frozen=True)
class KeyRing:
    secret: str
    versions: Mapping[Purpose, int] = field(default_factory=dict)

    def version(self, purpose: Purpose) -> int:
        return self.versions.get(purpose, DEFAULT_VERSIONS[purpose])

    def key(self, purpose: Purpose, version: int | None = None) -> bytes:
        number = self.version(purpose) if version is None else version
        if number == 0:
            return self.secret.encode()
        label = f"minzheng/{purpose.value}/v{number}".encode()
        return hmac.new(self.secret.encode(), label, hashlib.sha256).digest()

    def pseudonym(self, channel: str, raw_id: str) -> str:
        """A keyed hash of a resident's id on a channel: nothing stored holds the raw id."""
        message = f"{channel}:{raw_id}".encode()
        return hmac.new(self.key(Purpose.PSEUDONYM), message, hashlib.sha256).hexdigest()[:32]

    def sign(self, purpose: Purpose, message: str, length: int = 32) -> str:
        digest = hmac.new(self.key(purpose), message.encode(), hashlib.sha256)
        return digest.hexdigest()[:length]

    def seal(self, plain: str) -> str:
        """Encrypt and authenticate ``plain`` (AES-256-GCM) for storage: ``v1:<base64>``."""
        # Imported when first needed: most processes never seal anything (memory at start).
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        number = self.version(Purpose.SEALED)
        nonce = os.urandom(NONCE_BYTES)
        data = AESGCM(self.key(Purpose.SEALED, number)).encrypt(nonce, plain.encode(), None)
        return f"v{number}:{base64.urlsafe_b64encode(nonce + data).decode()}"

    def unseal(self, sealed: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        head, sep, body = sealed.partition(":")
        if not sep or not head.startswith("v") or not head[1:].isdigit() or head == "v0":
            raise SealBroken("not sealed text")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            key = self.key(Purpose.SEALED, int(head[1:]))
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
        except (ValueError, InvalidTag) as exc:
            raise SealBroken("sealed under another secret, or altered") from exc
        return plain.decode()
