"""Completion codes for crowd workers: one per worker, typed by hand, never guessable.

A crowd platform (Prolific, MTurk) asks each worker for the code the study showed
them once they were done; the lead then matches codes to workers. One code per task
pool could be passed on to anyone, so each worker's code is derived from the pool's
secret (`TaskPool.completion_code`, never shown) and the worker's account:
HMAC-SHA256, written in an alphabet without look-alikes (no I/1, no O/0), so a worker
copying it from the screen cannot mistype it into another valid code. Deriving rather
than storing keeps the claim path free of one more write; the lead's payouts list
every worker's code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# 32 symbols: A–Z and 2–9 without I, O, 0 and 1.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 50 bits
SECRET_LENGTH = 24


def pool_secret_new() -> str:
    """A new task pool's secret, from which its workers' codes are derived."""
    return "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))


def worker_code(*, secret: str, user_id: int) -> str:
    """The completion code of worker `user_id` in the pool with `secret`."""
    digest = hmac.new(secret.encode(), f"worker:{user_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)
