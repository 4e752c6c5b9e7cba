"""Fault injection at configured rates (seeded), the request counter, and reset."""

from __future__ import annotations

import math

import httpx
import pytest

from orgforge.errors import ConfigError
from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce.faults import parse_faults

N = 1000


def within(observed: int, n: int, p: float) -> bool:
    """Observed count within 4 binomial standard errors of n*p."""
    return abs(observed - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1


def test_request_faults_at_configured_rates(tmp_path):
    rates = {"429": 0.1, "503": 0.05, "expire": 0.02}
    config = SandboxConfig(
        db_path=tmp_path / "f.db", faults="429=0.1,503=0.05,expire=0.02,retry_after=0", seed=7
    )
    with run_in_thread(config) as sb, httpx.Client(base_url=sb.base_url) as client:
        token = sb.token
        seen = {"429": 0, "503": 0, "expire": 0}
        for _ in range(N):
            response = client.get("/limits", headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 429:
                seen["429"] += 1
                assert response.headers["Retry-After"] == "0"
                assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
            elif response.status_code == 503:
                seen["503"] += 1
            elif response.status_code == 401:
                seen["expire"] += 1
                # The token stays invalid until the client logs in again.
                again = client.get("/limits", headers={"Authorization": f"Bearer {token}"})
                assert again.status_code == 401
                login = httpx.post(
                    f"{sb.instance_url}/services/oauth2/token",
                    data={
                        "grant_type": "password",
                        "username": sb.admin_username,
                        "password": sb.password + sb.security_token,
                    },
                )
                token = login.json()["access_token"]
            else:
                assert response.status_code == 200
        for kind, p in rates.items():
            assert within(seen[kind], N, p), (kind, seen[kind])
        stats = httpx.get(f"{sb.instance_url}/_sandbox/stats", headers=sb.headers).json()
        assert stats["faults"]["429"] == seen["429"]
        assert stats["by_family"]["limits"] >= N


def test_same_seed_same_faults(tmp_path):
    def run(seed):
        config = SandboxConfig(
            db_path=tmp_path / f"s{seed}-{id(object())}.db", faults="503=0.3", seed=seed
        )
        with (
            run_in_thread(config) as sb,
            httpx.Client(base_url=sb.base_url, headers=sb.headers) as c,
        ):
            return [c.get("/limits").status_code for _ in range(60)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_lock_faults_per_record_in_collections(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "l.db", faults="lock=0.3", seed=3)
    with run_in_thread(config) as sb, httpx.Client(base_url=sb.base_url, headers=sb.headers) as c:
        locked = 0
        for _batch in range(5):
            records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(200)]
            results = c.post("/composite/sobjects", json={"records": records}).json()
            for result in results:
                if not result["success"]:
                    assert result["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
                    locked += 1
        assert within(locked, 1000, 0.3)
        total = c.get("/query", params={"q": "SELECT COUNT() FROM Account"}).json()["totalSize"]
        assert total == 1000 - locked
        # single-record writes fail whole with the same code
        codes = {c.post("/sobjects/Account", json={"Name": "x"}).status_code for _ in range(30)}
        assert codes == {201, 400}


def test_stats_health_and_reset(sb, api):
    api.post("/sobjects/Account", json={"Name": "A"})
    api.get("/query", params={"q": "SELECT Id FROM Account"})
    health = httpx.get(f"{sb.instance_url}/_sandbox/health").json()
    assert health["status"] == "ok" and health["instance_url"] == sb.instance_url
    stats = httpx.get(f"{sb.instance_url}/_sandbox/stats", headers=sb.headers).json()
    assert stats["by_family"]["sobjects"] == 1 and stats["by_family"]["query"] == 1
    assert stats["records"]["Account"] == 1 and stats["records"]["User"] == 8
    reset = httpx.post(f"{sb.instance_url}/_sandbox/reset", headers=sb.headers)
    assert reset.json() == {"status": "reset"}
    after = httpx.get(f"{sb.instance_url}/_sandbox/stats", headers=sb.headers).json()
    assert after["records"]["Account"] == 0 and after["records"]["User"] == 8
    assert api.get("/query", params={"q": "SELECT COUNT() FROM User"}).json()["totalSize"] == 8
    assert api.get("/sobjects/Account/describe").json()["keyPrefix"] == "001"


def test_daily_limit_exhaustion(tmp_path):
    with run_in_thread(db_path=tmp_path / "d.db", daily_api_requests=3) as sb:
        statuses = [
            httpx.get(f"{sb.base_url}/limits", headers=sb.headers).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 403, 403]


@pytest.mark.parametrize("spec", ["429=2", "boom=0.1", "429", "429=0.6,503=0.6"])
def test_bad_fault_specs(spec):
    with pytest.raises(ConfigError):
        parse_faults(spec)
