"""The demo's first administrator sign-in, as the README tells it, against a live server:
restricted until enrolled, then every sign-in with a code of the authenticator app."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.conftest import DEMO_PASSWORD
from tests.e2e.live import GraphQLError, Office

LOGIN = """mutation($u: String!, $p: String!, $c: String) {
  login(input: {username: $u, password: $p, totpCode: $c}) { accessToken mustEnrollTotp errors { field code } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { username } errors { code } } }"""


async def test_a_demo_administrator_enrolls_at_first_sign_in_then_signs_in_with_codes(office: Office) -> None:
    first = (await office.call(None, LOGIN, u="admin", p=DEMO_PASSWORD, c=None))["login"]
    assert (first["errors"], first["mustEnrollTotp"]) == ([], True)
    restricted = first["accessToken"]
    new_user = {"username": "e2e_totp", "displayName": "双因素", "password": "Temp@2026-pass"}
    with pytest.raises(GraphQLError) as refused:
        await office.call(restricted, CREATE_USER, input=new_user)
    assert refused.value.args[0][0]["extensions"]["code"] == "TOTP_ENROLLMENT_REQUIRED"
    assert (await office.call(restricted, "{ me { username mustEnrollTotp } }"))["me"] == {
        "username": "admin",
        "mustEnrollTotp": True,
    }

    started = (await office.call(restricted, "mutation { startTotpEnrollment { secret otpauthUri errors { code } } }"))[
        "startTotpEnrollment"
    ]
    assert started["otpauthUri"].startswith("otpauth://totp/office-api:admin?secret=")
    app = pyotp.TOTP(started["secret"])  # the authenticator app
    step = int(time.time()) // 30
    confirmed = (
        await office.call(
            restricted,
            "mutation($c: String!) { confirmTotpEnrollment(input: {code: $c}) { accessToken errors { code } } }",
            c=app.at(step * 30),
        )
    )["confirmTotpEnrollment"]
    assert confirmed["errors"] == []
    created = await office.call(confirmed["accessToken"], CREATE_USER, input=new_user)
    assert created["createUser"] == {"user": {"username": "e2e_totp"}, "errors": []}

    missing = (await office.call(None, LOGIN, u="admin", p=DEMO_PASSWORD, c=None))["login"]
    assert missing["errors"] == [{"field": "totpCode", "code": "TOTP_REQUIRED"}]
    # The step used to confirm is spent; the next one is accepted already (±1 step).
    again = (await office.call(None, LOGIN, u="admin", p=DEMO_PASSWORD, c=app.at((step + 1) * 30)))["login"]
    assert (again["errors"], again["mustEnrollTotp"]) == ([], False)
    office.server.assert_no_errors()
