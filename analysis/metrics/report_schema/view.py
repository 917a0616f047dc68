"""The display vocabulary of the typed report description: columns, tables, figures,
sections, and the one way a value is spelled in a cell.

Every report format draws from these objects: the report page and the HTML export
render the same sections from templates, the PDF draws them with fpdf2, the CSV zip
writes every table that names a file, with raw values. So a number reads the same
in every format by construction, and tests/exports/test_report_formats_agree.py checks
it. Pure: no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "int", "number", "signed", "p", "percent", "interval", "bool", "json"]
MISSING = "—"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def spell(value: Any, kind: Kind = "text", digits: int = 3) -> str:
    """``value`` as a cell shows it: missing as —, booleans yes/no, numbers to ``digits``
    decimals (``signed`` with their sign, ``percent`` as %, ``p`` as a p-value),
    intervals as ``[low, high]``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "interval":
        low, high = interval(value)
        if low is None and high is None:
            return MISSING
        return f"[{spell(low, 'number', digits)}, {spell(high, 'number', digits)}]"
    if isinstance(value, list | tuple):
        return ", ".join(spell(v, kind, digits) for v in value) or MISSING
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {spell(v, kind, digits)}" for k, v in value.items()) or MISSING
    if kind == "int" and _finite(value):
        return str(round(value))
    if not _finite(value):
        return str(value) if not isinstance(value, float) else MISSING
    if kind == "signed":
        return f"{value:+.{digits}f}"
    if kind == "percent":
        return f"{value:.{max(digits - 2, 0)}%}"
    if kind == "p":
        return "< 0.0001" if value < 0.0001 else f"{value:.4f}"
    if kind in ("number", "interval") or isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def interval(value: Any) -> tuple[Any, Any]:
    """(low, high) of a two-element list or tuple; (None, None) otherwise."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None, None


@dataclass(frozen=True)
class Column:
    """One column: ``key`` names it in the CSV (an interval becomes ``<key>_low`` and
    ``<key>_high``), ``label`` heads it on screen and paper (empty: CSV only)."""

    key: str
    label: str = ""
    kind: Kind = "text"
    digits: int = 3
    in_csv: bool = True

    @property
    def shown(self) -> bool:
        return bool(self.label)

    def csv_keys(self) -> list[str]:
        return [f"{self.key}_low", f"{self.key}_high"] if self.kind == "interval" else [self.key]

    def csv_values(self, value: Any) -> list[Any]:
        return list(interval(value)) if self.kind == "interval" else [value]


@dataclass(frozen=True)
class Table:
    """Rows of raw values under typed columns. ``csv`` is its file in the CSV zip (None:
    not written there); ``shown`` says whether page, HTML and PDF show it."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    csv: str | None = None
    shown: bool = True
    flagged: tuple[bool, ...] = ()
    empty: str = "None."
    note: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: a row has {len(row)} cells")

    @property
    def header(self) -> list[str]:
        return [c.label for c in self.columns if c.shown]

    @property
    def cells(self) -> list[list[str]]:
        """The shown cells as text, row by row."""
        shown = [(i, c) for i, c in enumerate(self.columns) if c.shown]
        return [[spell(row[i], c.kind, c.digits) for i, c in shown] for row in self.rows]

    @property
    def numeric(self) -> list[bool]:
        """Per shown column: right-align it (numbers)."""
        return [c.kind not in ("text", "bool", "json") for c in self.columns if c.shown]

    @property
    def display_rows(self) -> list[tuple[bool, list[tuple[str, bool]]]]:
        """(flagged, [(cell text, numeric)]) per row, for templates."""
        flags = self.flagged or (False,) * len(self.rows)
        return [
            (flag, list(zip(cells, self.numeric, strict=True)))
            for flag, cells in zip(flags, self.cells, strict=True)
        ]

    def csv_header(self) -> list[str]:
        return [key for c in self.columns if c.in_csv for key in c.csv_keys()]

    def csv_rows(self) -> list[list[Any]]:
        return [
            [
                v
                for c, value in zip(self.columns, row, strict=True)
                if c.in_csv
                for v in c.csv_values(value)
            ]
            for row in self.rows
        ]


@dataclass(frozen=True)
class Figure:
    """A figure by id (``analysis.report_charts.figure_svgs`` draws it) and caption."""

    id: str
    caption: str


@dataclass(frozen=True)
class Section:
    """One part of the report. ``reason`` replaces the content when the part could
    not be computed; ``warning`` heads a highlighted list of ``items`` (with no warning
    they are a plain list); ``notes`` close the section in small print; ``parts`` are
    its subsections."""

    key: str
    title: str
    reason: str | None = None
    text: tuple[str, ...] = ()
    warning: str | None = None
    items: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    parts: tuple[Section, ...] = ()
    definitions: tuple[tuple[str, str], ...] = ()

    def walk(self) -> list[Section]:
        """This section and every subsection, depth first."""
        return [self, *(s for part in self.parts for s in part.walk())]


@dataclass(frozen=True)
class ReportDescription:
    """The whole report as every format shows it."""

    schema_version: str
    summary: str
    sections: tuple[Section, ...]
    extra_tables: tuple[Table, ...] = field(default=())

    def walk(self) -> list[Section]:
        return [s for section in self.sections for s in section.walk()]

    def tables(self) -> list[Table]:
        return [t for s in self.walk() for t in s.tables] + list(self.extra_tables)

    def csv_tables(self) -> dict[str, Table]:
        """Every table written to the CSV zip, by file name, in report order."""
        out: dict[str, Table] = {}
        for table in self.tables():
            if table.csv:
                if table.csv in out:
                    raise ValueError(f"two tables write {table.csv}")
                out[table.csv] = table
        return out

    def figures(self) -> list[Figure]:
        return [f for s in self.walk() for f in s.figures]


def get(mapping: Any, *keys: str) -> Any:
    """``mapping[k1][k2]…``, or None as soon as a level is missing or not a mapping."""
    value = mapping
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def items(mapping: Any) -> list[tuple[str, Any]]:
    """Sorted (key, value) pairs of a mapping; [] for anything else."""
    return sorted(mapping.items()) if isinstance(mapping, Mapping) else []


def mappings(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """Sorted (key, value) pairs of a mapping whose values are mappings (others are
    skipped: an absent part of a stored report shows as absent, never as an error)."""
    return [(k, v) for k, v in items(value) if isinstance(v, Mapping)]


def rows_of(value: Any) -> Sequence[Mapping[str, Any]]:
    """The mappings of a list (a report row that is not an object is skipped)."""
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def as_dict(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one: the description never fails on
    a part of the report that is missing or malformed, it shows less."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
