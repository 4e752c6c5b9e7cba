"""Salesforce API errors as the sandbox raises and renders them.

REST errors render as ``[{"message", "errorCode", "fields"}]``; per-record results inside
collections render as ``{"statusCode", "message", "fields"}``, exactly as a real org does.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

log = logging.getLogger("orgforge.sandbox.salesforce")


class SFError(Exception):
    """One Salesforce error: HTTP status, error code, message and the fields it concerns."""

    def __init__(
        self,
        code: str,
        message: str,
        fields: list[str] | None = None,
        status: int = 400,
        *,
        with_fields: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields or [])
        self.status = status
        self.with_fields = with_fields
        self.headers = headers or {}

    def rest_body(self) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.with_fields:
            body["fields"] = self.fields
        return [body]

    def result_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def bulk_error(self) -> str:
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


def not_found() -> SFError:
    return SFError("NOT_FOUND", "The requested resource does not exist", status=404)


def invalid_session() -> SFError:
    return SFError(
        "INVALID_SESSION_ID", "Session expired or invalid", status=401, with_fields=False
    )


def invalid_type(name: str) -> SFError:
    return SFError(
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
        with_fields=False,
    )


def rolled_back() -> SFError:
    return SFError(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header",
    )


def error_id() -> str:
    """A support ErrorId shaped like a real org's, e.g. ``1446353591-174717 (-1527622535)``."""
    first = 10**9 + secrets.randbelow(9 * 10**9)
    second = 10**5 + secrets.randbelow(9 * 10**5)
    third = secrets.randbelow(2**32) - 2**31
    return f"{first}-{second} ({third})"


def unknown_exception(where: str) -> tuple[str, str]:
    """Log the exception being handled with a new ErrorId; return (id, client message).

    The client sees only Salesforce's wording and the id; the exception goes to the server log.
    """
    eid = error_id()
    log.error("ErrorId %s: unexpected error in %s", eid, where, exc_info=True)
    return (
        eid,
        f"An unexpected error occurred. Please include this ErrorId if you contact support: {eid}",
    )
