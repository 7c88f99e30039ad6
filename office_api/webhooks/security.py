"""Webhook secrets, request signatures and the checks on target URLs (SSRF).

Secrets
    ``whsec_`` followed by 256 random bits (URL-safe base64). The platform must sign every
    request with it, so it is kept recoverable: encrypted at rest with Fernet (AES-128-CBC +
    HMAC-SHA-256) under a key derived by HKDF-SHA-256 from ``OFFICE_TOTP_SECRET_KEY`` (or
    ``OFFICE_JWT_SECRET`` when that is empty), the key material that already protects TOTP
    secrets (office_api/totp.py), with its own HKDF ``info`` so the two keys differ.

Signatures (the scheme of Stripe's webhooks)
    ``X-Office-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
    The receiver recomputes the HMAC over the exact bytes it received, compares in constant
    time, and refuses a ``t`` outside its replay window (:func:`verify`).

Targets
    Only ``http``/``https`` URLs without credentials or fragment. Unless
    ``OFFICE_WEBHOOK_ALLOW_PRIVATE`` is true, the scheme must be https and every address the
    host resolves to must be a public (globally routable) unicast address: loopback, private
    (RFC 1918, fc00::/7), link-local (169.254/16 incl. cloud metadata, fe80::/10), CGNAT,
    multicast and reserved ranges are refused (:func:`_public`). An IPv6 address that embeds
    an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, NAT64 ``64:ff9b::/96`` of RFC 6052, 6to4
    ``2002::/16`` of RFC 3056) is judged by the IPv4 address it reaches, so
    ``[64:ff9b::7f00:1]`` (127.0.0.1 through a NAT64 gateway) is refused like ``127.0.0.1``.
    The check runs at registration and again before every POST, since DNS answers change.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

from office_api import sealing
from office_api.config import Settings

SECRET_PREFIX = "whsec_"
MAX_URL = 2000
SIGNATURE_HEADER = "X-Office-Signature"
_HKDF_INFO = b"office-api webhook secret encryption v1"


class SecretKeyError(RuntimeError):
    """A stored webhook secret does not decrypt with the configured key (the key changed)."""


class TargetRefused(ValueError):
    """A webhook URL the platform will not call; ``str()`` says why (English, for the admin)."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + 43 URL-safe base64 characters (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _cipher(settings: Settings) -> Fernet:
    fernet = sealing.cipher(settings, _HKDF_INFO)
    if fernet is None:
        raise SecretKeyError("no key for webhook secrets: set OFFICE_TOTP_SECRET_KEY or OFFICE_JWT_SECRET")
    return fernet


def encrypt_secret(settings: Settings, secret: str) -> str:
    """The Fernet token stored for ``secret``."""
    return _cipher(settings).encrypt(secret.encode()).decode()


def decrypt_secret(settings: Settings, token: str) -> str:
    """The secret stored as ``token``; :class:`SecretKeyError` when the key does not fit."""
    try:
        return _cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretKeyError("a stored webhook secret does not decrypt: was the key changed?") from exc


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Office-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` with ``secret`` and its
    timestamp is within ``tolerance`` seconds of ``now`` (the replay window)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    expected = signature(secret, ts, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` stripped, if its form is acceptable; :class:`TargetRefused` otherwise.

    Checks the form only (scheme, host, no credentials, no fragment, length); the addresses
    are checked by :func:`check_target`.
    """
    url = url.strip()
    if not url:
        raise TargetRefused("the URL is empty")
    if len(url) > MAX_URL:
        raise TargetRefused(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("the URL is malformed") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs are allowed")
    if scheme == "http" and not allow_private:
        raise TargetRefused("plain http is refused: use https")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials in the URL are refused")
    if parts.fragment:
        raise TargetRefused("a fragment (#…) is refused")
    if port == 0:
        raise TargetRefused("port 0 is refused")
    return url


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits
# Not globally reachable (IANA special-purpose registry) but missing from or mis-classified by
# the ``ipaddress`` tables of Python 3.11 (newer Pythons agree; listing them keeps the verdict
# the same on every supported Python).
_NOT_GLOBAL = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215 local-use NAT64: mapping is site-specific
    ipaddress.IPv6Network("fec0::/10"),  # RFC 3879 deprecated site-local
    ipaddress.IPv6Network("3fff::/20"),  # RFC 9637 documentation
)


def _public(address: str) -> bool:
    """Whether the platform may POST to ``address`` (an IPv4/IPv6 literal, maybe with a ``%zone``).

    True only for a globally reachable unicast address: ``is_global`` and neither multicast nor
    reserved (unallocated IPv6, 240/4) nor in :data:`_NOT_GLOBAL`. An IPv6 address embedding an
    IPv4 address (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4) gets the verdict of that IPv4
    address; Teredo (``2001::/32``, which also embeds two IPv4 addresses) is refused outright.
    """
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif any(ip in net for net in _NOT_GLOBAL):
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


async def _addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` (a name or an IP literal) stands for; refused when it does not resolve."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"the host {host} does not resolve") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise TargetRefused(f"the host {host} does not resolve")
    return addresses


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse (:class:`TargetRefused`) a URL whose form is bad or, unless ``allow_private``,
    whose host resolves to any non-public address or does not resolve at all."""
    check_url(url, allow_private=allow_private)
    if allow_private:
        return
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    addresses = await _addresses(host, parts.port or 443)
    for address in addresses:
        if not _public(address):
            raise TargetRefused(f"the host {host} resolves to a non-public address ({address})")
