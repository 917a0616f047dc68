"""test_concurrency's guarantees (k never exceeded, one lease per person, one annotation
per double submit, expired leases re-served) on the portable engine: on PostgreSQL it
locks with select_for_update as the hand-written path does. (The SQLite demo has no row
locks; its writes are serialised by the database.)"""

from __future__ import annotations

import pytest

from tests.annotation import test_concurrency as concurrency_suite
from tests.annotation.test_portable import _portable_copy, portable_engine  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

for _name, _test in list(vars(concurrency_suite).items()):
    if _name.startswith("test_") and callable(_test):
        globals()[f"{_name}__portable"] = _portable_copy(_test)
