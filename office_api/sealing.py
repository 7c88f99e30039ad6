"""Secrets kept recoverable at rest (TOTP seeds, webhook signing secrets).

Fernet (AES-128-CBC with HMAC-SHA-256) under a key derived with HKDF-SHA-256 from
``OFFICE_TOTP_SECRET_KEY``, or from ``OFFICE_JWT_SECRET`` when that is empty. Each purpose
passes its own HKDF ``info``, so the keys of two purposes differ.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from office_api.config import Settings


@functools.lru_cache(maxsize=16)
def _fernet(material: str, info: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def cipher(settings: Settings, info: bytes) -> Fernet | None:
    """The Fernet of purpose ``info``; None when neither key setting is set."""
    material = settings.totp_secret_key or settings.jwt_secret
    return _fernet(material, info) if material else None
