"""OAuth 2.0 grants (password, refresh token, JWT bearer), identity, and SOAP login."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from orgforge.clock import SimulatedClock
from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread


@pytest.fixture(scope="module")
def keypair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def token(sb, **form):
    return httpx.post(f"{sb.instance_url}/services/oauth2/token", data=form)


def test_password_grant_and_refresh(sb):
    response = token(
        sb,
        grant_type="password",
        client_id=sb.consumer_key,
        client_secret=sb.consumer_secret,
        username=sb.admin_username,
        password=sb.password + sb.security_token,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} <= set(
        body
    )
    assert body["token_type"] == "Bearer" and body["instance_url"] == sb.instance_url
    assert body["id"].endswith(f"/id/{sb.org_id}/{sb.state.org.admin_id}")
    assert body["issued_at"].isdigit()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(f"{sb.base_url}/limits", headers=headers).status_code == 200
    ident = httpx.get(body["id"], headers=headers).json()
    assert ident["username"] == sb.admin_username and ident["timezone"] == "America/Los_Angeles"

    refreshed = token(
        sb,
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
        client_id=sb.consumer_key,
    )
    assert refreshed.status_code == 200
    new_headers = {"Authorization": f"OAuth {refreshed.json()['access_token']}"}
    assert httpx.get(f"{sb.base_url}/sobjects", headers=new_headers).status_code == 200
    bad_refresh = token(sb, grant_type="refresh_token", refresh_token="nope")
    assert bad_refresh.json()["error"] == "invalid_grant"


def test_password_grant_failures(sb):
    wrong = token(sb, grant_type="password", username=sb.admin_username, password="wrong")
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    inactive = token(sb, grant_type="password", username=sb.usernames[-1], password=sb.password)
    assert inactive.status_code == 400
    client = token(
        sb,
        grant_type="password",
        client_id="someone-else",
        username=sb.admin_username,
        password=sb.password,
    )
    assert client.json()["error"] == "invalid_client_id"
    unsupported = token(sb, grant_type="authorization_code", code="x")
    assert unsupported.json()["error"] == "unsupported_grant_type"


def test_jwt_bearer_grant(tmp_path, keypair):
    private, public = keypair
    config = SandboxConfig(db_path=tmp_path / "j.db", consumer_key="my-app", jwt_public_key=public)
    with run_in_thread(config) as sb:
        claims = {
            "iss": "my-app",
            "sub": sb.usernames[1],
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 180,
        }
        assertion = jwt.encode(claims, private, algorithm="RS256")
        ok = token(
            sb, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
        )
        assert ok.status_code == 200, ok.text
        access = ok.json()["access_token"]
        me = httpx.get(
            f"{sb.instance_url}/services/oauth2/userinfo",
            headers={"Authorization": f"Bearer {access}"},
        ).json()
        assert me["username"] == sb.usernames[1]

        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(claims, other, algorithm="RS256")
        bad = token(sb, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=forged)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
        expired = jwt.encode(claims | {"exp": int(time.time()) - 10}, private, algorithm="RS256")
        late = token(
            sb, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=expired
        )
        assert late.status_code == 400
        stranger = jwt.encode(claims | {"iss": "other-app"}, private, algorithm="RS256")
        assert (
            token(
                sb, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=stranger
            ).json()["error"]
            == "invalid_client_id"
        )


def test_static_token_revived_by_login_after_expiry(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "e.db", token="STATIC", faults="expire=1.0")
    with run_in_thread(config) as sb:
        headers = {"Authorization": "Bearer STATIC"}
        first = httpx.get(f"{sb.base_url}/limits", headers=headers)
        assert first.status_code == 401
        assert first.json()[0]["errorCode"] == "INVALID_SESSION_ID"
        sb.state.faults.rates.clear()
        assert httpx.get(f"{sb.base_url}/limits", headers=headers).status_code == 401
        token(sb, grant_type="password", username=sb.admin_username, password=sb.password)
        assert httpx.get(f"{sb.base_url}/limits", headers=headers).status_code == 200


def test_oauth_tokens_expire_after_ttl(tmp_path):
    # The sandbox's clock is simulated: the token ages only when the test says so.
    clock = SimulatedClock()
    with run_in_thread(db_path=tmp_path / "t.db", token_ttl=7200.0, clock=clock) as sb:
        access = token(
            sb, grant_type="password", username=sb.admin_username, password=sb.password
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {access}"}
        assert httpx.get(f"{sb.base_url}/limits", headers=headers).status_code == 200
        clock.advance(7199)
        assert httpx.get(f"{sb.base_url}/limits", headers=headers).status_code == 200
        clock.advance(2)
        assert httpx.get(f"{sb.base_url}/limits", headers=headers).status_code == 401
