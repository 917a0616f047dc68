"""The annotator's data API: next item, submit, skip, flag, progress.

Every response is built by annotation.selectors_annotator, which only knows opaque
handles, texts and rubric questions: the blinding lives there, not here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import FlagReason
from annotation.selectors_annotator import (
    annotator_completion,
    assignment_get_for_annotator,
    assignment_item,
    task_get_for_annotator,
    task_list_for_annotator,
)
from annotation.services.assignment import (
    assignment_claim,
    assignment_claim_any,
    task_pool_worker_complete,
)
from annotation.services.submission import (
    annotation_submit,
    assignment_flag,
    assignment_interaction_record,
    assignment_skip,
)
from common.http import AuthenticatedRequest


class ResponseSerializer(serializers.Serializer):
    # The metaclass moves declared fields off the class, so this never shadows Field.label at
    # run time; drf-stubs cannot see that.
    label = serializers.CharField()  # type: ignore[assignment]
    text = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    submitted = serializers.IntegerField()
    cap = serializers.IntegerField(allow_null=True)


class ItemSerializer(serializers.Serializer):
    handle = serializers.CharField()
    task = serializers.CharField()
    prompt = serializers.CharField()
    responses = ResponseSerializer(many=True)
    rubric = serializers.ListField(child=serializers.DictField())
    status = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()
    progress = ProgressSerializer()


class DoneSerializer(serializers.Serializer):
    done = serializers.BooleanField()
    completion_code = serializers.CharField(allow_null=True)
    progress = ProgressSerializer()


def _next_response(request: AuthenticatedRequest, assignment: Any, task: Any) -> Response:
    if assignment is not None:
        # assignment_item returns exactly ItemSerializer's fields with JSON-ready values
        # (a test holds the two equal), so the hot path skips building the serializer.
        return Response(assignment_item(actor=request.user, assignment=assignment))
    if task is not None:
        task_pool_worker_complete(actor=request.user, task=task)
        return Response(DoneSerializer(annotator_completion(actor=request.user, task=task)).data)
    return Response({"done": True, "completion_code": None, "progress": None})


class AnnotatorTaskListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        public_id = serializers.CharField()
        title = serializers.CharField()
        description = serializers.CharField()
        mode = serializers.CharField()
        status = serializers.CharField()
        submitted = serializers.IntegerField()
        cap = serializers.IntegerField(allow_null=True)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        tasks = task_list_for_annotator(actor=request.user)
        return Response(self.OutputSerializer(tasks, many=True).data)


class AnnotatorNextApi(APIView):
    """Lease the next unit from any of my live tasks (or return my current lease)."""

    @extend_schema(request=None, responses={200: ItemSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        assignment = assignment_claim_any(actor=request.user)
        task = assignment.task_pool.task if assignment is not None else None
        return _next_response(request, assignment, task)


class AnnotatorTaskNextApi(APIView):
    """Lease the next unit of this task; when none is left, say so (with the crowd
    completion code once the worker's quota is done)."""

    @extend_schema(request=None, responses={200: ItemSerializer})
    def post(self, request: AuthenticatedRequest, public_id: str) -> Response:
        task = task_get_for_annotator(actor=request.user, public_id=public_id)
        assignment = assignment_claim(actor=request.user, task=task)
        return _next_response(request, assignment, task)


class AnnotatorTaskProgressApi(APIView):
    @extend_schema(responses=DoneSerializer)
    def get(self, request: AuthenticatedRequest, public_id: str) -> Response:
        task = task_get_for_annotator(actor=request.user, public_id=public_id)
        return Response(DoneSerializer(annotator_completion(actor=request.user, task=task)).data)


class AnnotatorItemApi(APIView):
    @extend_schema(responses=ItemSerializer)
    def get(self, request: AuthenticatedRequest, handle: str) -> Response:
        assignment = assignment_get_for_annotator(actor=request.user, handle=handle)
        return Response(
            ItemSerializer(assignment_item(actor=request.user, assignment=assignment)).data
        )


class AnnotatorInteractApi(APIView):
    """Record the server time of the first interaction (the workspace calls it once)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: AuthenticatedRequest, handle: str) -> Response:
        assignment_interaction_record(actor=request.user, handle=handle)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotatorSubmitApi(APIView):
    class InputSerializer(serializers.Serializer):
        answers = serializers.DictField()
        active_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)
        first_interaction_at = serializers.DateTimeField(required=False, allow_null=True)
        submission_token = serializers.CharField(required=False, allow_blank=True, max_length=64)

    class OutputSerializer(serializers.Serializer):
        handle = serializers.CharField()
        submitted_at = serializers.DateTimeField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer, 200: OutputSerializer}
    )
    def post(self, request: AuthenticatedRequest, handle: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        annotation, created = annotation_submit(
            actor=request.user,
            handle=handle,
            answers=data["answers"],
            client_active_seconds=data.get("active_seconds"),
            client_first_interaction_at=data.get("first_interaction_at"),
            submission_token=data.get("submission_token", ""),
        )
        # Already OutputSerializer's shape (datetimes render the same through the JSON
        # renderer); skipping the serializer saves a good share of this hot endpoint.
        out = {"handle": handle, "submitted_at": annotation.submitted_at, "duplicate": not created}
        return Response(out, status=201 if created else 200)


class AnnotatorSkipApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500)

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request: AuthenticatedRequest, handle: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignment_skip(actor=request.user, handle=handle, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotatorFlagApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.ChoiceField(choices=FlagReason.choices)
        note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request: AuthenticatedRequest, handle: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignment_flag(actor=request.user, handle=handle, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
