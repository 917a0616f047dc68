"""Password rules: what the probe set for the crowd accounts would now be refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from common.models import User


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("crowd5", "crowd5crowd5"),  # the probe's: passes Django's similarity ratio (0.67)
        ("crowd5", "Crowd5-2026!"),  # contains the username
        ("maria", "xyzxyzxyzxyz"),  # one piece repeated
        ("maria", "password123"),  # on the common-password list
        ("maria", "29481736"),  # digits only
        ("maria", "short1!"),  # under 8 characters
    ],
)
def test_weak_passwords_are_refused(username, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=User(username=username, email=f"{username}@lab.org"))


def test_a_reasonable_password_passes():
    validate_password("tidal-orbit-quince", user=User(username="crowd5", email="c5@lab.org"))


def test_the_email_local_part_counts_too():
    with pytest.raises(ValidationError, match="username, e-mail or name"):
        validate_password("jdoe-at-work", user=User(username="u17", email="jdoe@lab.org"))
