"""Annotator pools and their members."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from annotation.models import AnnotatorPool, PoolKind, PoolMembership
from common.exceptions import ApplicationError
from common.models import Project, ProjectRole, User
from common.services import audit_record, project_membership_add


@transaction.atomic
def pool_create(
    *, actor: User, project: Project, name: str, kind: str, description: str = ""
) -> AnnotatorPool:
    if kind not in PoolKind.values:
        raise ApplicationError(f"A pool is 'expert' or 'crowd', not '{kind}'.")
    if AnnotatorPool.objects.filter(project=project, name=name).exists():
        raise ApplicationError(f"This project already has a pool named '{name}'.")
    pool = AnnotatorPool.objects.create(
        project=project, name=name, kind=kind, description=description
    )
    audit_record(
        actor=actor, project=project, action="pool.create", target=pool, details={"kind": kind}
    )
    return pool


@transaction.atomic
def pool_member_add(
    *,
    actor: User,
    pool: AnnotatorPool,
    user: User,
    expertise_tags: list[str] | None = None,
    languages: list[str] | None = None,
    external_worker_id: str = "",
    pay_rate_per_hour: Decimal | None = None,
) -> PoolMembership:
    """Put `user` in `pool`, making them an annotator of the pool's project."""
    project_membership_add(actor=actor, project=pool.project, user=user, role=ProjectRole.ANNOTATOR)
    wanted = {
        "expertise_tags": expertise_tags or [],
        "languages": languages or [],
        "external_worker_id": external_worker_id,
        "pay_rate_per_hour": pay_rate_per_hour,
    }
    membership, created = PoolMembership.objects.get_or_create(
        pool=pool, user=user, defaults=wanted
    )
    changed = [name for name, value in wanted.items() if getattr(membership, name) != value]
    if changed:
        for name in changed:
            setattr(membership, name, wanted[name])
        membership.save(update_fields=[*changed, "updated_at"])
    if created or changed:
        audit_record(
            actor=actor,
            project=pool.project,
            action="pool.member_add" if created else "pool.member_update",
            target=membership,
            details={"pool": pool.name, "user": user.username, "changed": changed},
        )
    return membership


@transaction.atomic
def pool_member_remove(*, actor: User, pool: AnnotatorPool, user: User) -> None:
    deleted, _ = PoolMembership.objects.filter(pool=pool, user=user).delete()
    if deleted:
        audit_record(
            actor=actor,
            project=pool.project,
            action="pool.member_remove",
            details={"pool": pool.name, "user": user.username},
        )
