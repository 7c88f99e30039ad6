"""ID token validation of the relying party (OpenID Connect Core 1.0 §3.1.3.7), against a
provider served by an httpx MockTransport with keys made here: each rule refused alone."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from office_api.config import ConfigurationError, Settings
from office_api.errors import DomainError, ErrorCode
from office_api.oidc import RelyingParty, s256_challenge

ISSUER = "https://idp.example.gov.cn"
CLIENT = "office-app"
NONCE = "n-0S6_WzA2Mj"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def provider(keys: list[RSAKey], calls: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
                },
            )
        if request.url.path == "/jwks":
            return httpx.Response(200, json=KeySet(keys).as_dict(private=False))
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def make_rp(keys: list[RSAKey] | None = None, calls: list[str] | None = None) -> RelyingParty:
    settings = Settings(
        jwt_secret="x" * 40,
        oidc_issuer=ISSUER,
        oidc_client_id=CLIENT,
        oidc_redirect_uri="https://office.example.gov.cn/auth/oidc/callback",
        oidc_app_return_uris=["cn.gov.office:/oidc"],
    )
    return RelyingParty(settings, transport=provider(keys or [KEY], calls if calls is not None else []))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "3701-0042", "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": NONCE}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, payload, key)


async def test_a_valid_token_gives_its_claims() -> None:
    got = await make_rp().validate_id_token(sign(claims()), NONCE)
    assert (got["sub"], got["iss"], got["aud"], got["nonce"]) == ("3701-0042", ISSUER, CLIENT, NONCE)


@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("wrong issuer", lambda: sign(claims(iss="https://evil.example"))),
        ("wrong audience", lambda: sign(claims(aud="another-client"))),
        ("audience list without us", lambda: sign(claims(aud=["a", "b"]))),
        ("expired", lambda: sign(claims(exp=int(time.time()) - 120))),
        ("issued in the future", lambda: sign(claims(iat=int(time.time()) + 600))),
        ("wrong nonce", lambda: sign(claims(nonce="replayed"))),
        ("no nonce", lambda: sign(claims(nonce=None))),
        ("no subject", lambda: sign(claims(sub=None))),
        ("another key", lambda: sign(claims(), OTHER_KEY)),
        ("HMAC with a guessable key", lambda: sign(claims(), OctKey.import_key(b"k" * 32), "HS256")),
        ("garbage", lambda: "not.a.jwt"),
    ],
)
async def test_each_rule_refuses_alone(case: str, token: Any) -> None:
    with pytest.raises(DomainError) as err:
        await make_rp().validate_id_token(token(), NONCE)
    assert err.value.code is ErrorCode.OIDC_ID_TOKEN_INVALID, case


async def test_tampered_payload_fails_the_signature() -> None:
    header, payload, signature = sign(claims()).split(".")
    other = sign(claims(sub="admin")).split(".")[1]
    with pytest.raises(DomainError) as err:
        await make_rp().validate_id_token(f"{header}.{other}.{signature}", NONCE)
    assert err.value.code is ErrorCode.OIDC_ID_TOKEN_INVALID
    assert payload != other


async def test_keys_are_fetched_again_once_on_an_unknown_key_id() -> None:
    calls: list[str] = []
    rp = make_rp([KEY], calls)
    await rp.validate_id_token(sign(claims()), NONCE)
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    rp.transport = provider([KEY, rotated], calls)
    token = jwt.encode({"alg": "RS256", "kid": "k2"}, claims(), rotated)
    got = await rp.validate_id_token(token, NONCE)
    assert got["sub"] == "3701-0042"
    assert calls == ["/.well-known/openid-configuration", "/jwks", "/jwks"]


async def test_discovery_must_name_the_configured_issuer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issuer": "https://other.example", "jwks_uri": "x"})

    rp = make_rp()
    rp.transport = httpx.MockTransport(handler)
    with pytest.raises(DomainError) as err:
        await rp.metadata()
    assert err.value.code is ErrorCode.OIDC_PROVIDER_ERROR


def test_s256_challenge_is_authlibs() -> None:
    verifier = "dBjftJeZ4CVP-mB92K1uhbUJU1p1r_wW1gFWFOEjXk"
    assert (
        s256_challenge(verifier)
        == create_s256_code_challenge(verifier)
        == "DpW_nzyKLmXOCjIx2Ik4CEMHAv6AF_zNMXGb5Z9P0oI"
    )


@pytest.mark.parametrize(
    ("update", "variable"),
    [
        ({"oidc_client_id": ""}, "OFFICE_OIDC_CLIENT_ID"),
        ({"oidc_redirect_uri": ""}, "OFFICE_OIDC_REDIRECT_URI"),
        ({"oidc_app_return_uris": []}, "OFFICE_OIDC_APP_RETURN_URIS"),
        ({"oidc_scope": "profile"}, "OFFICE_OIDC_SCOPE"),
        ({"oidc_issuer": "http://idp.example.gov.cn"}, "OFFICE_OIDC_ISSUER"),
    ],
)
def test_incomplete_configuration_is_refused(update: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        make_rp().settings.model_copy(update=update).check_oidc()


def test_complete_or_absent_configuration_is_accepted() -> None:
    make_rp().settings.check_oidc()
    make_rp().settings.model_copy(update={"oidc_issuer": "http://localhost:9400"}).check_oidc()
    Settings(jwt_secret="x" * 40).check_oidc()
