"""The SOQL syntax tree: what the parser builds and each caller evaluates its own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Path:
    parts: list[str]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass
class Count:
    path: Path | None
    alias: str | None
    pos: int


@dataclass
class Literal:
    kind: str  # string number date datetime dateliteral null bool
    value: Any
    pos: int
    text: str


@dataclass
class Comparison:
    path: Path
    op: str  # = != < <= > >= LIKE IN NOTIN INCLUDES EXCLUDES
    value: Literal | list[Literal] | Query
    pos: int


@dataclass
class Logical:
    op: str  # AND | OR
    items: list[Any]


@dataclass
class Not:
    item: Any


@dataclass
class Order:
    path: Path
    desc: bool
    nulls_last: bool


@dataclass
class Query:
    items: list[Path | Count | Query]
    sobject: str
    sobject_pos: int
    alias: str | None = None
    where: Any = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    pos: int = 0


Condition = Comparison | Logical | Not
