"""The citizen parking API of the "北京交通" app: SMS-code login, token, plates, transfers.

Citizens authenticate with their own app tokens (``Authorization: Bearer ct_…``), never
with staff sessions or staff tokens; every endpoint here sees only the caller's own data.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from govcenter.core import context
from govcenter.core.api.errors import ServiceError
from govcenter.core.masking import mask_phone

from ..models import PlateBinding, PlateTransfer, VehicleClass
from ..services import citizens as services
from ..services import rejections


class CitizenPrincipal:
    """What ``request.user`` is on citizen endpoints (not a staff user: no permissions)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, citizen):
        self.citizen = citizen
        self.pk = f"citizen:{citizen.pk}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def get_all_permissions(self, obj=None) -> set:
        return set()


class CitizenTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() != self.keyword:
            return None
        raw = header[1].decode(errors="replace") if len(header) == 2 else ""
        found = services.citizen_for_token(raw) if raw.startswith(services.TOKEN_PREFIX) else None
        if found is None:
            raise exceptions.AuthenticationFailed("登录已失效，请重新登录。")
        citizen, token = found
        base = context.current()
        context.set_context(
            context.RequestContext(
                request_id=base.request_id, username=str(citizen), ip=base.ip, channel="app"
            )
        )
        return CitizenPrincipal(citizen), token

    def authenticate_header(self, request):
        return 'Bearer realm="citizen"'


class CitizenTokenScheme(OpenApiAuthenticationExtension):
    target_class = "govcenter.parking.api.citizens.CitizenTokenAuthentication"
    name = "citizenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer ct_… (from POST /api/v1/parking/citizen/login).",
        }


class IsCitizen(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, CitizenPrincipal)


def refusal_reason(exc) -> str | None:
    """The counter reason of a refused request (None for a server error: not the caller's fault)."""
    if isinstance(exc, ServiceError):
        return exc.error_code[:40]
    if isinstance(exc, exceptions.ValidationError):
        return "invalid_request"
    if isinstance(exc, exceptions.AuthenticationFailed):
        return "bad_token"
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        return (codes if isinstance(codes, str) else "invalid")[:40]
    if isinstance(exc, Http404):
        return "not_found"
    return None


class CountedRefusalsMixin:
    """Counts every refused request of the citizen app per source and reason
    (services/rejections.py): ``citizen:<id>`` when logged in, else ``ip:<address>``.

    Counted here, after the service's transaction has rolled back, so the counter stays.
    """

    def handle_exception(self, exc):
        reason = refusal_reason(exc)
        if reason is not None:
            user = getattr(self.request, "_user", None)
            if isinstance(user, CitizenPrincipal):
                source = rejections.citizen_source(user.citizen)
            else:
                source = rejections.ip_source(context.current().ip or self.request.META.get("REMOTE_ADDR"))
            rejections.rejection_count(source=source, reason=reason)
        return super().handle_exception(exc)


class CitizenView(CountedRefusalsMixin, APIView):
    authentication_classes = [CitizenTokenAuthentication]
    permission_classes = [IsCitizen]

    @property
    def citizen(self):
        return self.request.user.citizen


class SmsCodeThrottle(AnonRateThrottle):
    """Per source IP, on top of the per-phone limits of core.sms (SMS bombing)."""

    scope = "citizen_sms"
    rate = "30/hour"


class PhoneSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=20)


class LoginSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=20)
    code = serializers.CharField(max_length=6, min_length=6)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    phone = serializers.CharField(help_text="masked")


class PlateBindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlateBinding
        fields = ["plate", "vehicle_class", "bound_at"]


class PlateBindSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=16)
    vehicle_class = serializers.ChoiceField(choices=VehicleClass.choices, default=VehicleClass.SMALL)


class PlateTransferSerializer(serializers.ModelSerializer):
    direction = serializers.SerializerMethodField()

    class Meta:
        model = PlateTransfer
        fields = ["id", "plate", "status", "requested_at", "expires_at", "decided_at", "direction"]

    def get_direction(self, transfer) -> str:
        return "incoming" if transfer.from_citizen_id == self.context["citizen"].pk else "outgoing"


class CitizenSmsCodeView(CountedRefusalsMixin, APIView):
    """Send a login code to a phone (1 per minute, 10 per day per phone; per-IP throttle)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [SmsCodeThrottle]

    @extend_schema(
        request=PhoneSerializer,
        responses={202: inline_serializer("SmsSent", {"sent": serializers.BooleanField()})},
    )
    def post(self, request):
        body = PhoneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.citizen_login_code_send(phone=body.validated_data["phone"])
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


class CitizenLoginView(CountedRefusalsMixin, APIView):
    """Exchange phone + SMS code for an app token."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=LoginSerializer, responses=TokenSerializer)
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.citizen_login(**body.validated_data)
        data = {
            "token": issued.raw,
            "expires_at": issued.expires_at,
            "phone": mask_phone(issued.citizen.phone),
        }
        response = Response(TokenSerializer(data).data)
        response["Cache-Control"] = "no-store"
        return response


class CitizenLogoutView(CitizenView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.citizen_logout(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CitizenPlatesView(CitizenView):
    @extend_schema(responses=PlateBindingSerializer(many=True))
    def get(self, request):
        return Response(PlateBindingSerializer(services.plates_of(self.citizen), many=True).data)

    @extend_schema(request=PlateBindSerializer, responses={201: PlateBindingSerializer})
    def post(self, request):
        body = PlateBindSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        binding = services.plate_bind(citizen=self.citizen, **body.validated_data)
        return Response(PlateBindingSerializer(binding).data, status=status.HTTP_201_CREATED)


class CitizenPlateView(CitizenView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, plate: str):
        services.plate_unbind(citizen=self.citizen, plate=plate)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CitizenPlateTransferView(CitizenView):
    @extend_schema(request=None, responses={202: PlateTransferSerializer})
    def post(self, request, plate: str):
        transfer = services.plate_transfer_request(citizen=self.citizen, plate=plate)
        data = PlateTransferSerializer(transfer, context={"citizen": self.citizen}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class CitizenTransfersView(CitizenView):
    @extend_schema(responses=PlateTransferSerializer(many=True))
    def get(self, request):
        from django.db.models import Q

        transfers = PlateTransfer.objects.filter(Q(from_citizen=self.citizen) | Q(to_citizen=self.citizen))[
            :100
        ]
        return Response(PlateTransferSerializer(transfers, many=True, context={"citizen": self.citizen}).data)


class CitizenTransferDecisionView(CitizenView):
    approve = True

    @extend_schema(request=None, responses=PlateTransferSerializer)
    def post(self, request, pk: int):
        transfer = services.plate_transfer_decide(citizen=self.citizen, transfer_id=pk, approve=self.approve)
        return Response(PlateTransferSerializer(transfer, context={"citizen": self.citizen}).data)
