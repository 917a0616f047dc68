"""Lead-facing task API: create, configure pools, blinding check, gold, launch/pause/close,
progress; plus pool members. Reads for researchers too, writes for leads only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from annotation.models import FlagResolution, Pairing, PayMode, TaskMode
from annotation.selectors import (
    CROWD_LINK_QUERY,
    blinding_flag_get,
    guideline_version_for_task,
    pool_get,
    pool_members,
    prompt_ids_by_external_id,
    system_ids_by_name,
    task_blinding_flags,
    task_get,
    task_list,
    task_progress,
    task_units,
    unit_get,
    user_by_username,
)
from annotation.selectors_annotator import crowd_link_worker_limit, crowd_link_workers_joined
from annotation.services.blinding import blinding_check_run, blinding_flag_resolve
from annotation.services.pools import pool_member_add, pool_member_remove
from annotation.services.tasks import (
    task_close,
    task_create,
    task_launch,
    task_pause,
    task_pool_add,
    unit_mark_gold,
)
from common.api.base import LEAD, READERS, ProjectAPIView
from common.http import AuthenticatedRequest


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    public_id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()
    pairing = serializers.CharField()
    guideline_version = serializers.IntegerField(source="guideline_version_id")
    pay_per_item = serializers.DecimalField(max_digits=8, decimal_places=2)
    pay_mode = serializers.CharField()
    min_hourly_rate = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
    lease_seconds = serializers.IntegerField()
    launched_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)


class PoolProgressSerializer(serializers.Serializer):
    pool = serializers.CharField()
    kind = serializers.CharField()
    redundancy = serializers.IntegerField()
    per_annotator_cap = serializers.IntegerField(
        source="task_pool.per_annotator_cap", allow_null=True
    )
    gold_share = serializers.FloatField(source="task_pool.gold_share")
    require_quiz = serializers.BooleanField(source="task_pool.require_quiz")
    slots = serializers.IntegerField()
    done = serializers.IntegerField()
    leased = serializers.IntegerField()
    open = serializers.IntegerField()
    percent_done = serializers.FloatField()
    annotators = serializers.IntegerField()
    skipped = serializers.IntegerField()
    flagged = serializers.IntegerField()
    expired = serializers.IntegerField()
    crowd_link = serializers.CharField()
    # Crowd pools only (null otherwise): how many workers the link signed up, and the
    # most it may (`max_workers`, or what the slots need at the cap). Each worker gets
    # a completion code of their own, listed in the payouts.
    max_workers = serializers.IntegerField(source="task_pool.max_workers", allow_null=True)
    workers_joined = serializers.IntegerField(allow_null=True)
    worker_limit = serializers.IntegerField(allow_null=True)


def _progress(request: AuthenticatedRequest, task: Any) -> list[dict[str, Any]]:
    rows = task_progress(task=task)
    for row in rows:
        path = reverse("crowd-entry", args=[row["task_pool"].entry_token])
        row["crowd_link"] = request.build_absolute_uri(path) + CROWD_LINK_QUERY
        crowd = row["kind"] == "crowd"
        tp = row["task_pool"]
        row["workers_joined"] = crowd_link_workers_joined(task_pool=tp) if crowd else None
        row["worker_limit"] = crowd_link_worker_limit(task_pool=tp) if crowd else None
    return rows


class TaskListApi(ProjectAPIView):
    allowed_roles = READERS

    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        guideline_version = serializers.IntegerField()
        mode = serializers.ChoiceField(choices=TaskMode.choices)
        prompts = serializers.ListField(
            child=serializers.CharField(), required=False, allow_empty=True
        )
        systems = serializers.ListField(
            child=serializers.CharField(), required=False, allow_empty=True
        )
        pairing = serializers.ChoiceField(choices=Pairing.choices, default=Pairing.ALL_PAIRS)
        pairs_per_prompt = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        ranking_size = serializers.IntegerField(required=False, allow_null=True, min_value=2)
        pay_per_item = serializers.DecimalField(
            max_digits=8, decimal_places=2, default=Decimal("0"), min_value=Decimal("0")
        )
        pay_mode = serializers.ChoiceField(choices=PayMode.choices, default=PayMode.PER_ITEM)
        min_hourly_rate = serializers.DecimalField(
            max_digits=8, decimal_places=2, required=False, allow_null=True
        )
        lease_seconds = serializers.IntegerField(default=900, min_value=30)
        blinding_terms = serializers.ListField(child=serializers.CharField(), required=False)
        seed = serializers.IntegerField(required=False, allow_null=True)

    @extend_schema(responses=TaskSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        return Response(TaskSerializer(task_list(project=self.project), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: TaskSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        prompts, systems = data.pop("prompts", None), data.pop("systems", None)
        task = task_create(
            actor=request.user,
            project=self.project,
            guideline_version=guideline_version_for_task(
                project=self.project, version_id=data.pop("guideline_version")
            ),
            prompt_ids=prompt_ids_by_external_id(project=self.project, external_ids=prompts)
            if prompts
            else None,
            system_ids=system_ids_by_name(project=self.project, names=systems) if systems else None,
            **data,
        )
        return Response(TaskSerializer(task).data, status=201)


class TaskDetailApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(TaskSerializer):
        pools = PoolProgressSerializer(many=True)
        open_blinding_flags = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, slug: str, task_id: int) -> Response:
        task = task_get(project=self.project, task_id=task_id)
        detail = {
            **TaskSerializer(task).data,
            "pools": PoolProgressSerializer(_progress(request, task), many=True).data,
            "open_blinding_flags": task_blinding_flags(task=task, open_only=True).count(),
        }
        return Response(detail)


class TaskPoolAddApi(ProjectAPIView):
    allowed_roles = LEAD

    class InputSerializer(serializers.Serializer):
        pool = serializers.IntegerField()
        redundancy = serializers.IntegerField(min_value=1, max_value=50, default=3)
        per_annotator_cap = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        gold_share = serializers.FloatField(min_value=0, max_value=1, default=0)
        require_quiz = serializers.BooleanField(default=False)
        max_workers = serializers.IntegerField(min_value=1, required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: PoolProgressSerializer(many=True)})
    def post(self, request: AuthenticatedRequest, slug: str, task_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        task = task_get(project=self.project, task_id=task_id)
        pool = pool_get(project=self.project, pool_id=data.pop("pool"))
        task_pool_add(actor=request.user, task=task, pool=pool, **data)
        return Response(
            PoolProgressSerializer(_progress(request, task), many=True).data, status=201
        )


class _TaskTransitionApi(ProjectAPIView):
    allowed_roles = LEAD
    transition: Any = None

    @extend_schema(request=None, responses=TaskSerializer)
    def post(self, request: AuthenticatedRequest, slug: str, task_id: int) -> Response:
        task = task_get(project=self.project, task_id=task_id)
        task = type(self).transition(actor=request.user, task=task)
        return Response(TaskSerializer(task).data)


class TaskLaunchApi(_TaskTransitionApi):
    """Create the slots and start serving; refused while blinding flags are open."""

    transition = staticmethod(task_launch)


class TaskPauseApi(_TaskTransitionApi):
    transition = staticmethod(task_pause)


class TaskCloseApi(_TaskTransitionApi):
    transition = staticmethod(task_close)


class BlindingFlagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    output = serializers.IntegerField(source="output_id")
    system = serializers.CharField(source="output.system.name")
    prompt_id = serializers.CharField(source="output.prompt.external_id")
    rule = serializers.CharField()
    term = serializers.CharField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    excerpt = serializers.CharField()
    resolution = serializers.CharField()


class TaskBlindingApi(ProjectAPIView):
    """GET the flags; POST re-runs the check (existing resolutions are kept)."""

    allowed_roles = READERS

    @extend_schema(responses=BlindingFlagSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str, task_id: int) -> Response:
        task = task_get(project=self.project, task_id=task_id)
        return Response(BlindingFlagSerializer(task_blinding_flags(task=task), many=True).data)

    @extend_schema(
        operation_id="projects_tasks_blinding_check_run",
        request=None,
        responses=BlindingFlagSerializer(many=True),
    )
    def post(self, request: AuthenticatedRequest, slug: str, task_id: int) -> Response:
        task = task_get(project=self.project, task_id=task_id)
        blinding_check_run(actor=request.user, task=task)
        return Response(BlindingFlagSerializer(task_blinding_flags(task=task), many=True).data)


class BlindingFlagResolveApi(ProjectAPIView):
    allowed_roles = LEAD

    class InputSerializer(serializers.Serializer):
        resolution = serializers.ChoiceField(
            choices=[FlagResolution.MASKED, FlagResolution.EXCLUDED, FlagResolution.IGNORED]
        )

    @extend_schema(
        operation_id="projects_tasks_blinding_resolve",
        request=InputSerializer,
        responses=BlindingFlagSerializer,
    )
    def post(
        self, request: AuthenticatedRequest, slug: str, task_id: int, flag_id: int
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = task_get(project=self.project, task_id=task_id)
        flag = blinding_flag_resolve(
            actor=request.user,
            flag=blinding_flag_get(task=task, flag_id=flag_id),
            resolution=serializer.validated_data["resolution"],
        )
        return Response(BlindingFlagSerializer(flag).data)


class TaskUnitListApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        ordinal = serializers.IntegerField()
        prompt_id = serializers.CharField(source="prompt.external_id")
        systems = serializers.SerializerMethodField()
        is_gold = serializers.BooleanField()
        gold_answers = serializers.JSONField()
        excluded = serializers.BooleanField()

        def get_systems(self, unit: Any) -> list[str]:
            return [uo.output.system.name for uo in unit.unit_outputs.all()]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str, task_id: int) -> Response:
        task = task_get(project=self.project, task_id=task_id)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(task_units(task=task), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class UnitGoldApi(ProjectAPIView):
    """Make a unit gold with its known answers (in the submit shape), or clear it with null."""

    allowed_roles = LEAD

    class InputSerializer(serializers.Serializer):
        answers = serializers.DictField(allow_null=True)

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(
        self, request: AuthenticatedRequest, slug: str, task_id: int, unit_id: int
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = task_get(project=self.project, task_id=task_id)
        unit_mark_gold(
            actor=request.user,
            unit=unit_get(task=task, unit_id=unit_id),
            answers=serializer.validated_data["answers"],
        )
        return Response(status=204)


class PoolMembersApi(ProjectAPIView):
    """List a pool's members; POST adds or updates one (or removes it with `remove`)."""

    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField(source="user.username")
        expertise_tags = serializers.ListField(child=serializers.CharField())
        languages = serializers.ListField(child=serializers.CharField())
        external_worker_id = serializers.CharField()
        pay_rate_per_hour = serializers.DecimalField(
            max_digits=8, decimal_places=2, allow_null=True
        )

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        remove = serializers.BooleanField(default=False)
        expertise_tags = serializers.ListField(
            child=serializers.CharField(max_length=64), required=False
        )
        languages = serializers.ListField(
            child=serializers.CharField(max_length=16), required=False
        )
        external_worker_id = serializers.CharField(
            max_length=128, required=False, allow_blank=True, default=""
        )
        pay_rate_per_hour = serializers.DecimalField(
            max_digits=8, decimal_places=2, required=False, allow_null=True, min_value=0
        )

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str, pool_id: int) -> Response:
        pool = pool_get(project=self.project, pool_id=pool_id)
        return Response(self.OutputSerializer(pool_members(pool=pool), many=True).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer(many=True))
    def post(self, request: AuthenticatedRequest, slug: str, pool_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        pool = pool_get(project=self.project, pool_id=pool_id)
        user = user_by_username(username=data.pop("username"))
        if data.pop("remove"):
            pool_member_remove(actor=request.user, pool=pool, user=user)
        else:
            pool_member_add(actor=request.user, pool=pool, user=user, **data)
        return Response(self.OutputSerializer(pool_members(pool=pool), many=True).data)
