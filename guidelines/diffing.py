"""Side-by-side line diff of guideline prose. Pure; the templates render the rows."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff; `kind` is equal, insert, delete or replace.

    A side's number is None where that side has no line in this row.
    """

    kind: str
    old_no: int | None
    old: str
    new_no: int | None
    new: str


def prose_diff(old: str, new: str) -> list[DiffRow]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        # Pair replaced lines up side by side; the longer side continues alone.
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            has_old, has_new = i < i2, j < j2
            kind = (
                tag
                if tag != "replace"
                else ("replace" if has_old and has_new else "delete" if has_old else "insert")
            )
            rows.append(
                DiffRow(
                    kind=kind,
                    old_no=i + 1 if has_old else None,
                    old=old_lines[i] if has_old else "",
                    new_no=j + 1 if has_new else None,
                    new=new_lines[j] if has_new else "",
                )
            )
    return rows
