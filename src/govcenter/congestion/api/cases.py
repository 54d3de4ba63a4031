"""The API of every kind of case (``kinds.Kind``), built from its declaration.

For a kind with code ``X`` under ``/api/v1/congestion/``:

* ``X/`` — the caller's scoped list (the kind's filters plus ``overdue=1``; each row with its
  warning colour), ``POST`` to register one (the kind's ``Create``: its permission, its input);
* ``X/{id}`` — one case; ``X/{id}/history`` — its transitions, oldest first;
* ``X/{id}/<step>`` — ``POST`` one workflow step with the step's body. Seeing the case is enough
  to ask; the transition's own permission decides (403 ``transition_forbidden``), and the state
  (409 ``illegal_transition`` naming the allowed steps, 409 ``state_changed`` when someone else
  moved it first).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core import workflow
from govcenter.core.api.base import FunctionPermission, ScopedViewSet

from .. import kinds
from ..kinds import Kind, Step
from ..models.cases import DISTRICT_BOUNDARY


class CaseSerializer(serializers.ModelSerializer):
    """Base of the kinds' read serializers: district code, warning colour, handling units."""

    district = serializers.CharField(source="district.code", read_only=True, default=None)
    warning = serializers.SerializerMethodField(
        help_text="none / blue (near) / yellow (behind) / red (overdue)"
    )
    units = serializers.SerializerMethodField()

    CASE_FIELDS = ["id", "number", "year", "state", "title", "body", "district", "location", "deadline", "warning",
                   "units", "created_at", "closed_at"]  # fmt: skip

    def get_warning(self, obj) -> str:
        kind = kinds.for_model(type(obj))
        return str(kind.warning(obj)) if kind else "none"

    def get_units(self, obj) -> list[dict]:
        return [
            {"unit": u.unit_id, "role": u.role, "deadline": u.deadline.isoformat() if u.deadline else None}
            for u in obj.units.all()
        ]


class InScope(serializers.PrimaryKeyRelatedField):
    """A reference to another object that must be in the caller's data scope (else "does not
    exist", as for any out-of-scope id)."""

    def get_queryset(self):
        request = self.context.get("request")
        queryset = super().get_queryset()
        user = getattr(request, "user", None)
        return queryset.restrict(user) if user is not None else queryset.none()


class TransitionLogSerializer(serializers.Serializer):
    transition = serializers.CharField()
    source = serializers.CharField()
    state = serializers.CharField()
    actor_name = serializers.CharField()
    unit_name = serializers.CharField()
    comment = serializers.CharField()
    at = serializers.DateTimeField()


class _ViewPermission(FunctionPermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(view.kind.view_permission))


def run_step(kind: Kind, step: Step, *, actor, case, data: dict):
    """Run ``step`` of ``case`` with already validated ``data`` (API and pages alike)."""
    return step.run(actor=actor, **{kind.case_arg: case}, **data)


def _step_action(kind: Kind, step: Step):
    def run(self, request, pk=None):
        body = step.serializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        case = run_step(kind, step, actor=request.user, case=self.get_object(), data=body.validated_data)
        return Response(kind.serializer(case, context=self.get_serializer_context()).data)

    run.__name__ = step.name
    run.__doc__ = str(step.label)
    return extend_schema(request=step.serializer, responses=kind.serializer)(
        action(detail=True, methods=["post"], url_path=step.name.replace("_", "-"), url_name=step.name)(run)
    )


def case_viewset(kind: Kind) -> type:
    """A ScopedViewSet class for ``kind`` (list, retrieve, create, history, one action per step)."""
    step_names = {s.name for s in kind.steps} | {"history"}

    class Base(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
        queryset = kind.model.objects.all()
        serializer_class = kind.serializer
        filterset_class = kind.filterset
        read_permissions = (kind.view_permission,)
        write_permissions = (kind.create.permission,) if kind.create else ()

        def scoped_queryset(self, queryset):
            queryset = queryset.select_related("district").defer(*DISTRICT_BOUNDARY).prefetch_related("units").order_by(*kind.ordering)
            overdue = self.request.query_params.get("overdue")
            if overdue in ("1", "true", "True"):
                queryset = queryset.filter(kind.overdue_q())
            elif overdue in ("0", "false", "False"):
                queryset = queryset.exclude(kind.overdue_q())
            return queryset

        def get_permissions(self):
            if self.action in step_names:
                return [permissions.IsAuthenticated(), _ViewPermission()]
            return super().get_permissions()

        @extend_schema(responses=TransitionLogSerializer(many=True))
        @action(detail=True, methods=["get"])
        def history(self, request, pk=None):
            return Response(TransitionLogSerializer(workflow.history(self.get_object()), many=True).data)

    attrs = {"kind": kind, "__module__": __name__, "__doc__": f"{kind.label}（{kind.code}）"}
    for step in kind.steps:
        attrs[step.name] = _step_action(kind, step)
    bases: tuple = (Base,)
    if kind.create is not None:
        create = kind.create

        @extend_schema(request=create.serializer, responses={201: kind.serializer})
        def create_view(self, request):
            body = create.serializer(data=request.data, context=self.get_serializer_context())
            body.is_valid(raise_exception=True)
            case = create.run(actor=request.user, **body.validated_data)
            return Response(
                kind.serializer(case, context=self.get_serializer_context()).data,
                status=status.HTTP_201_CREATED,
            )

        attrs["create"] = create_view
    name = "".join(part.capitalize() for part in kind.code.replace("-", "_").split("_")) + "ViewSet"
    return type(name, bases, attrs)
