"""Bad credentials, unknown org alias, an org missing a field: one clear line + hint, right exit."""

from __future__ import annotations

import json
import os
import stat

import pytest

from orgforge.cli import _console
from orgforge.cli.main import app
from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
from orgforge.targets.salesforce import ops
from orgforge.targets.salesforce.auth import RoutingSession
from tests.targets.conftest import sf_config


def _cli(args, capsys, monkeypatch, env=None):
    for name in ("SF_ACCESS_TOKEN", "SF_PASSWORD", "SF_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    code = _console.run_app(app, args)
    return code, capsys.readouterr().err


def _base(sb, world, tmp_path):
    return ["--world", str(world), "--runs-dir", str(tmp_path / "runs")]


def test_bad_access_token(sandbox, world, tmp_path, capsys, monkeypatch):
    args = ["load", *_base(sandbox, world, tmp_path), "--instance-url", sandbox.instance_url]
    code, err = _cli(args, capsys, monkeypatch, {"SF_ACCESS_TOKEN": "00Dnope!wrong-token"})
    assert code == 1
    assert "401 INVALID_SESSION_ID" in err and "hint:" in err
    assert "wrong-token" not in err
    assert not (tmp_path / "runs").exists()  # failed before anything was written


def test_bad_password(sandbox, world, tmp_path, capsys, monkeypatch):
    args = [
        "validate", "--world", str(world), "--auth", "password",
        "--login-url", sandbox.instance_url, "--username", sandbox.admin_username,
    ]  # fmt: skip
    code, err = _cli(args, capsys, monkeypatch, {"SF_PASSWORD": "not-the-password"})
    assert code == 1
    assert "login as" in err and "failed" in err and "SF_PASSWORD" in err
    assert "not-the-password" not in err


def test_unknown_org_alias(world, tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sf"
    error = {
        "code": 1,
        "commandName": "OrgDisplayCommand",
        "context": "OrgDisplay",
        "message": "No authorization information found for nosuchorg.",
        "name": "NamedOrgNotFoundError",
        "status": 1,
        "exitCode": 1,
    }
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(error, indent=2)}\nEOF\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code, err = _cli(["load", "--world", str(world), "--org", "nosuchorg"], capsys, monkeypatch)
    assert code == 2
    assert "org nosuchorg: NamedOrgNotFoundError: No authorization information" in err
    assert "sf org login web" in err


def test_sf_cli_auth_reuses_org_display(sandbox, world, tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = {
        "status": 0,
        "result": {
            "id": sandbox.org_id,
            "apiVersion": "59.0",
            "accessToken": sandbox.token,
            "instanceUrl": sandbox.instance_url,
            "username": sandbox.admin_username,
            "clientId": "PlatformCLI",
            "connectedStatus": "Connected",
            "alias": "demo",
        },
    }
    (bin_dir / "sf").write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(result)}\nEOF\n")
    (bin_dir / "sf").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code, err = _cli(["smoke", "--org", "demo"], capsys, monkeypatch)
    assert code == 0, err
    assert sandbox.token not in capsys.readouterr().out


def test_org_requires_a_field_we_dont_set(world, tmp_path, capsys, monkeypatch):
    schema = {"fields": {"Account": [{"name": "Region__c", "type": "string", "required": True}]}}
    with run_in_thread(SandboxConfig(schema=schema)) as sb:
        args = ["load", *_base(sb, world, tmp_path), "--instance-url", sb.instance_url]
        code, err = _cli(args, capsys, monkeypatch, {"SF_ACCESS_TOKEN": sb.token})
    assert code == 2
    assert "Account.Region__c: the org requires this field" in err
    assert "hint:" in err


class _NoContactPhone(RoutingSession):
    """An org whose Contact has no Phone field (its describe leaves it out)."""

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        if str(url).endswith("/sobjects/Contact/describe"):
            body = response.json()
            body["fields"] = [f for f in body["fields"] if f["name"] != "Phone"]
            response._content = json.dumps(body).encode()
        return response


def test_missing_field_in_org(sandbox, world, tmp_path):
    cfg, env = sf_config(sandbox, world, tmp_path)
    session = _NoContactPhone({sandbox.instance_url.split("//")[1]})
    report = ops.validate(cfg, env=env, session=session)
    assert "Contact.Phone: the field does not exist in the org" in report.plan.errors
    from orgforge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"Contact\.Phone: the field does not exist") as info:
        ops.load(cfg, env=env, session=_NoContactPhone({sandbox.instance_url.split("//")[1]}))
    assert info.value.exit_code == 2 and "skip_fields" in info.value.hint
    cfg.salesforce.skip_fields = ["Contact.Phone"]
    session = _NoContactPhone({sandbox.instance_url.split("//")[1]})
    assert ops.validate(cfg, env=env, session=session).ok


def test_jwt_bearer_login(world, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with run_in_thread(SandboxConfig(jwt_public_key=public.decode())) as sb:
        cfg, _ = sf_config(
            sb,
            world,
            tmp_path,
            auth="jwt",
            instance_url=None,
            login_url=sb.instance_url,
            username=sb.admin_username,
            consumer_key=sb.consumer_key,
            key_file=str(key_file),
        )
        result = ops.smoke(cfg, env={})
        assert result.username == sb.admin_username


def test_validate_exits_2_through_the_library_rule(world, tmp_path, capsys, monkeypatch):
    import orgforge

    schema = {"fields": {"Account": [{"name": "Region__c", "type": "string", "required": True}]}}
    with run_in_thread(SandboxConfig(schema=schema)) as sb:
        args = ["validate", "--world", str(world), "--instance-url", sb.instance_url]
        code, err = _cli(args, capsys, monkeypatch, {"SF_ACCESS_TOKEN": sb.token})
        cfg, env = sf_config(sb, world, tmp_path)
        report = orgforge.validate(cfg, env=env)
    assert code == 2 and "Account.Region__c: the org requires this field" in err
    failure = orgforge.api.validate_failure(report)
    assert failure is not None and failure.exit_code == 2
    assert "Region__c" in failure.message
