"""The dashboard (the first page after login) and the district map it draws."""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from ..models import District, Unit, User
from ..scope import scope_for

# Degrees. The dashboard map is ~600 px across ~1.7° of longitude (≈0.003°/px), so
# simplifying at 0.001° (≈100 m) and rounding to 4 decimals is invisible on screen and
# cuts the payload from ~1.3 MB to ~150 kB.
MAP_SIMPLIFY_TOLERANCE = 0.001
MAP_COORD_DECIMALS = 4
MAP_CACHE_SECONDS = 24 * 3600


def dashboard_counts(user) -> dict[str, int]:
    """Counts shown on the dashboard cards, each within the caller's data scope."""
    return {
        "units": Unit.objects.restrict(user).filter(is_active=True).count(),
        "users": User.objects.restrict(user).filter(is_active=True).count(),
        "districts": District.objects.restrict(user).count(),
    }


def _round(coords):
    if coords and isinstance(coords[0], (list, tuple)):
        return [_round(c) for c in coords]
    return [round(coords[0], MAP_COORD_DECIMALS), round(coords[1], MAP_COORD_DECIMALS)]


def _simplified_geometries() -> dict[str, dict]:
    """code → simplified GeoJSON geometry of every district with a boundary (cached).

    The cache key is a fingerprint of codes and bounding boxes, so reloading boundaries
    (which recomputes the boxes) invalidates it without a timestamp column.
    """
    from shapely.geometry import mapping, shape

    rows = list(
        District.objects.filter(geometry__isnull=False)
        .order_by("code")
        .values_list("pk", "code", "min_lon", "min_lat", "max_lon", "max_lat")
    )
    fingerprint = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    key = f"govcenter:dashboard:district-geometries:{fingerprint}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    geometries = {}
    for code, geometry in District.objects.filter(geometry__isnull=False).values_list("code", "geometry"):
        simple = mapping(shape(geometry).simplify(MAP_SIMPLIFY_TOLERANCE, preserve_topology=True))
        geometries[code] = {"type": simple["type"], "coordinates": _round(simple["coordinates"])}
    cache.set(key, geometries, MAP_CACHE_SECONDS)
    return geometries


def district_feature_collection(user) -> dict:
    """The district boundaries as a GeoJSON FeatureCollection (GCJ-02) for the map.

    Boundaries are reference data, so every signed-in user gets all of them (the map
    needs the whole city as its base layer); ``in_scope`` marks the districts whose data
    the caller's scope covers, computed through ``restrict()`` like every other read.
    """
    scope = scope_for(user)
    visible = set(District.objects.restrict(scope).values_list("code", flat=True))
    geometries = _simplified_geometries()
    english = (get_language() or "").startswith("en")
    features = []
    for district in District.objects.filter(code__in=geometries.keys()).only("code", "name_zh", "name_en"):
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": district.code,
                    "name": district.name_en if english and district.name_en else district.name_zh,
                    "in_scope": district.code in visible,
                },
                "geometry": geometries[district.code],
            }
        )
    return {"type": "FeatureCollection", "datum": "GCJ-02", "features": features}


@login_required
def dashboard(request):
    return render(request, "core/dashboard.html", {"counts": dashboard_counts(request.user)})


@login_required
@require_GET
def districts_geojson(request):
    response = JsonResponse(district_feature_collection(request.user), content_type="application/geo+json")
    response["Cache-Control"] = "private, max-age=300"
    return response
