"""Raw-SQL plumbing for the annotation hot path: a preparing cursor, model columns and
instances from rows, INSERT parts built from the models' fields, and the item-content
subqueries the claim and the annotator reads share.

Services (annotation.services.assignment, .submission) and selectors
(annotation.selectors_annotator) both use these, so they live below both layers: this
module imports models only, never a service or a selector.

The platform runs on PostgreSQL only; every statement here is PostgreSQL's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class ItemContent:
    """What the claim already read for the item page: the prompt, the response texts in
    shown order and the annotator's progress. The claim attaches it to the Assignment it
    returns (as ``ITEM_CONTENT_ATTR``) so `assignment_item` needs no further query."""

    prompt: str
    texts: list[str]
    progress: dict[str, Any]


ITEM_CONTENT_ATTR = "_item_content"


@functools.cache
def _preparing_cursor_class() -> type[Any]:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        """Binds parameters on the server and always uses a prepared statement."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs.setdefault("prepare", True)
            return super().execute(query, params, **kwargs)  # type: ignore[misc]

    return PreparingCursor


def hot_cursor() -> Any:
    """A cursor for the hot path's hand-written statements.

    Django's cursors interpolate parameters on the client and never prepare (Django
    turns psycopg's prepared statements off so that transaction-pooling PgBouncers keep
    working). These few statements run on every request, and planning them cost about
    as much PostgreSQL CPU as running them, so this cursor binds parameters on the
    server and prepares each statement once per connection. Set
    ANNOTATION_PREPARED_STATEMENTS = False behind a pooler that cannot keep prepared
    statements. It is still a Django cursor: errors are wrapped and queries logged.
    """
    connection.ensure_connection()
    raw = connection.connection
    if not getattr(settings, "ANNOTATION_PREPARED_STATEMENTS", True):
        cursor = raw.cursor()
    else:
        if raw.prepare_threshold is None:
            # Only explicit prepare=True (this cursor) prepares; Django's client-side
            # cursors never prepare whatever the threshold, so nothing else changes.
            raw.prepare_threshold = 2**31
        cursor = _preparing_cursor_class()(raw)
    # Django's own wrapping (error translation, query logging); not in its typed API.
    return connection._prepare_cursor(cursor)  # type: ignore[attr-defined]


def _qn(name: str | None) -> str:
    if name is None:  # concrete fields always have a column; the stubs allow None
        raise ValueError("a field without a column has no place in raw SQL")
    return connection.ops.quote_name(name)


@functools.cache
def sql_columns(model: type[Model], alias: str) -> str:
    """Every concrete column of `model`, in field order, qualified by `alias`."""
    return ", ".join(f"{alias}.{_qn(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _loaders(model: type[Model]) -> tuple[list[str], list[Callable[[Any], Any] | None]]:
    fields = model._meta.concrete_fields
    loaders: list[Callable[[Any], Any] | None] = [
        functools.partial(f.from_db_value, expression=None, connection=connection)
        if hasattr(f, "from_db_value")
        else None
        for f in fields
    ]
    return [f.attname for f in fields], loaders


def sql_instance(model: type[M], row: Sequence[Any]) -> M:
    """A model instance from a row selected with `sql_columns` (JSON decoded as the ORM does)."""
    attnames, loaders = _loaders(model)
    values = [
        value if load is None or value is None else load(value)
        for load, value in zip(loaders, row, strict=False)
    ]
    return model.from_db(connection.alias, attnames, values)


@functools.cache
def _insert_template(
    model: type[Model], exprs: tuple[tuple[str, str], ...]
) -> tuple[str, str, tuple[tuple[str, Any, bool, bool], ...]]:
    by_attname = dict(exprs)
    columns: list[str] = []
    items: list[str] = []
    spec: list[tuple[str, Any, bool, bool]] = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(_qn(field.column))
        if field.attname in by_attname:
            items.append(by_attname[field.attname])
            continue
        name = f"v{len(spec)}"
        # The cast types each parameter for the prepared statement (NULLs included).
        cast = field.cast_db_type(connection)
        auto = bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
        # Plain values go to psycopg as they are; JSON (and anything else the ORM must
        # prepare) goes through the field, as in Model.save().
        prepare = field.get_internal_type() not in _PLAIN_TYPES
        spec.append((name, field, auto, prepare))
        items.append(f"%({name})s::{cast}")
    return ", ".join(columns), ", ".join(items), tuple(spec)


_PLAIN_TYPES = frozenset(
    {
        "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField",
        "DateTimeField", "FloatField", "ForeignKey", "IntegerField", "PositiveIntegerField",
        "PositiveSmallIntegerField", "SlugField", "SmallIntegerField", "TextField",
    }
)  # fmt: skip


def sql_insert_parts(
    model: type[Model],
    values: dict[str, Any],
    *,
    exprs: tuple[tuple[str, str], ...] = (),
    now: datetime | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Column list, value list and parameters (named v0, v1, …) to insert one `model` row.

    Each concrete column but the primary key takes, in order of preference, an SQL
    expression from `exprs` (attname, SQL), a value from `values` (by attname), `now`
    for auto_now fields, or the field's own default, prepared as the ORM would.
    """
    columns, items, spec = _insert_template(model, exprs)
    params: dict[str, Any] = {}
    for name, field, auto, prepare in spec:
        if field.attname in values:
            value = values[field.attname]
        elif auto:
            value = now or timezone.now()
        else:
            value = field.get_default()
        params[name] = field.get_db_prep_save(value, connection) if prepare else value
    return columns, items, params


# Response texts of assignment `a` in its shown order (masked text where the lead masked).
ITEM_TEXTS_SQL = """(
    SELECT array_agg(COALESCE(uo.masked_text, o.text) ORDER BY e.i)
    FROM jsonb_array_elements_text(a.shown_order) WITH ORDINALITY AS e(output_id, i)
    JOIN annotation_unitoutput uo ON uo.unit_id = a.unit_id AND uo.output_id = e.output_id::bigint
    JOIN annotation_output o ON o.id = uo.output_id
)"""
ITEM_PROMPT_SQL = """(
    SELECT p.text FROM annotation_unit u JOIN annotation_prompt p ON p.id = u.prompt_id
    WHERE u.id = a.unit_id
)"""
