"""The one error the SOQL parser raises."""

from __future__ import annotations


class SOQLError(Exception):
    """A query that can't be read: Salesforce's message, where it went wrong, and its code.

    ``message`` follows Salesforce's wording (the sandbox returns it as is); ``friendly`` is a
    plainer sentence for a command line (``activity --where``) when the parser has one.
    """

    def __init__(
        self,
        message: str,
        pos: int,
        code: str = "MALFORMED_QUERY",
        friendly: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.code = code
        self.friendly = friendly or message
