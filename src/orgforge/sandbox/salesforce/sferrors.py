"""Salesforce API errors as the sandbox raises and renders them.

REST errors render as ``[{"message", "errorCode", "fields"}]``; per-record results inside
collections render as ``{"statusCode", "message", "fields"}``, exactly as a real org does.
"""

from __future__ import annotations

from typing import Any


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
