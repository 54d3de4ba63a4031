"""Assets (资产) and their relations: create, edit, relate — audited, in the caller's scope —
and the seed of the O&M contract's inventory (``inventory.json``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit

from ..models import Asset, AssetClass, AssetRelation, AssetStatus, RelationKind

INVENTORY_PATH = Path(__file__).resolve().parent / "inventory.json"
ASSET_FIELDS = ("code", "name", "asset_class", "contract_item", "product", "version", "vendor", "serial", "location",
                "unit_id", "ip", "hostname", "status", "licence_expires_on", "cert_expires_on", "notes", "attributes")  # fmt: skip
EDITABLE = tuple(f for f in ASSET_FIELDS if f not in {"code", "contract_item"})

# The classes a relation may point to (None: any class), and the classes it may start from.
RELATION_TARGETS: dict[str, set[str] | None] = {
    RelationKind.RUNS_ON: {AssetClass.SERVER, AssetClass.MIDDLEWARE},
    RelationKind.INSTALLED_ON: {AssetClass.SERVER},
    RelationKind.PROTECTS: {AssetClass.SERVER, AssetClass.APPLICATION},
    RelationKind.ISSUED_TO: None,
    RelationKind.DEPENDS_ON: None,
}
RELATION_SOURCES: dict[str, set[str] | None] = {
    RelationKind.RUNS_ON: {AssetClass.MIDDLEWARE, AssetClass.APPLICATION},
    RelationKind.INSTALLED_ON: None,
    RelationKind.PROTECTS: {AssetClass.WEB_PROTECT, AssetClass.LOG_AUDIT},
    RelationKind.ISSUED_TO: {AssetClass.CERTIFICATE, AssetClass.USB_KEY},
    RelationKind.DEPENDS_ON: None,
}


def inventory() -> dict:
    """The contract's inventory list (kinds, products, counts) and the relation rules."""
    return json.loads(INVENTORY_PATH.read_text(encoding="utf-8"))


def contract_counts() -> dict[str, int]:
    return {item["key"]: item["count"] for item in inventory()["items"]}


def _clean(data: dict) -> dict:
    data = {k: v for k, v in data.items() if k in ASSET_FIELDS or k == "unit"}
    if "unit" in data:
        data["unit_id"] = data.pop("unit").pk
    for name in ("name", "product", "version", "vendor", "serial", "location", "hostname", "notes"):
        if name in data:
            data[name] = (data[name] or "").strip()
    errors = {}
    if "name" in data and not data["name"]:
        errors["name"] = [_("必填")]
    if "asset_class" in data and data["asset_class"] not in AssetClass.values:
        errors["asset_class"] = [str(data["asset_class"])]
    if "status" in data and data["status"] not in AssetStatus.values:
        errors["status"] = [str(data["status"])]
    if data.get("ip") == "":
        data["ip"] = None
    if data.get("ip") and data.get("asset_class", AssetClass.SERVER) not in {AssetClass.SERVER, AssetClass.SIGNATURE_SERVER,
                                                                           AssetClass.DATA_SYNC, AssetClass.WEB_PROTECT,
                                                                           AssetClass.LOG_AUDIT}:  # fmt: skip
        errors["ip"] = [_("只有设备类资产有 IP 地址。")]
    if errors:
        raise ServiceError(_("资产信息有误。"), code="invalid", details=errors)
    return data


def _check_unit(actor, unit_id) -> None:
    if actor is not None and not Unit.objects.restrict(actor).filter(pk=unit_id).exists():
        raise ServiceError(_("该单位不在您的数据范围内。"), code="out_of_scope", status=403, details={"unit": [str(unit_id)]})


@transaction.atomic
def asset_create(*, actor, code: str, **fields) -> Asset:
    code = (code or "").strip().upper()
    if not code:
        raise ServiceError(_("请填写资产编号。"), code="invalid", details={"code": [_("必填")]})
    if Asset.objects.filter(code=code).exists():
        raise ServiceError(_("资产编号已存在。"), code="duplicate", status=409, details={"code": [code]})
    data = _clean(fields)
    if "unit_id" not in data:
        raise ServiceError(_("请选择运维单位。"), code="invalid", details={"unit": [_("必填")]})
    _check_unit(actor, data["unit_id"])
    asset = Asset.objects.create(code=code, **data)
    audit.record(action="ops.asset.create", obj=asset, changes=audit.diff({}, audit.snapshot(asset, list(ASSET_FIELDS))))
    return asset


@transaction.atomic
def asset_update(*, actor, asset: Asset, **fields) -> Asset:
    if actor is not None and not Asset.objects.restrict(actor).filter(pk=asset.pk).exists():
        raise ServiceError(_("该资产不在您的数据范围内。"), code="out_of_scope", status=403)
    data = _clean({k: v for k, v in fields.items() if k in EDITABLE or k == "unit"})
    if "unit_id" in data:
        _check_unit(actor, data["unit_id"])
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    before = audit.snapshot(locked, list(ASSET_FIELDS))
    for name, value in data.items():
        setattr(locked, name, value)
    locked.save()
    changes = audit.diff(before, audit.snapshot(locked, list(ASSET_FIELDS)))
    if changes["after"]:
        audit.record(action="ops.asset.update", obj=locked, changes=changes)
    return locked


@transaction.atomic
def relation_add(*, actor, source: Asset, kind: str, target: Asset) -> AssetRelation:
    """Relate two assets; refused: a self-loop, a duplicate, a class the kind does not allow,
    an asset outside the caller's scope."""
    if kind not in RelationKind.values:
        raise ServiceError(_("未知的关系类型。"), code="invalid", details={"kind": [str(kind)]})
    if source.pk == target.pk:
        raise ServiceError(_("资产不能与自身建立关系。"), code="self_loop", details={"target": [target.code]})
    if actor is not None:
        visible = set(Asset.objects.restrict(actor).filter(pk__in=[source.pk, target.pk]).values_list("pk", flat=True))
        if visible != {source.pk, target.pk}:
            raise ServiceError(_("该资产不在您的数据范围内。"), code="out_of_scope", status=403)
    _check_relation(source, kind, target)
    if AssetRelation.objects.filter(source=source, kind=kind, target=target).exists():
        raise ServiceError(_("该关系已存在。"), code="duplicate", status=409,
                           details={"relation": [f"{source.code} {kind} {target.code}"]})  # fmt: skip
    relation = AssetRelation.objects.create(source=source, kind=kind, target=target)
    audit.record(action="ops.asset.relate", obj=source, changes={"after": {"kind": kind, "target": target.code}})
    return relation


def _check_relation(source: Asset, kind: str, target: Asset) -> None:
    allowed_targets, allowed_sources = RELATION_TARGETS[kind], RELATION_SOURCES[kind]
    label = RelationKind(kind).label
    if allowed_sources is not None and source.asset_class not in allowed_sources:
        raise ServiceError(_("“%(kind)s”关系不能从该类资产发起。") % {"kind": label}, code="invalid_relation",
                           details={"source": [source.asset_class], "allowed": sorted(allowed_sources)})  # fmt: skip
    if allowed_targets is not None and target.asset_class not in allowed_targets:
        raise ServiceError(_("“%(kind)s”关系不能指向该类资产。") % {"kind": label}, code="invalid_relation",
                           details={"target": [target.asset_class], "allowed": sorted(allowed_targets)})  # fmt: skip


@transaction.atomic
def relation_remove(*, actor, relation: AssetRelation) -> None:
    if actor is not None and not AssetRelation.objects.restrict(actor).filter(pk=relation.pk).exists():
        raise ServiceError(_("该资产不在您的数据范围内。"), code="out_of_scope", status=403)
    audit.record(action="ops.asset.unrelate", obj=relation.source,
                 changes={"before": {"kind": relation.kind, "target": relation.target.code}})  # fmt: skip
    relation.delete()


# --------------------------------------------------------------------------------------------
# The contract's inventory
# --------------------------------------------------------------------------------------------


def _generated(item: dict, n: int) -> dict:
    fields = {
        "name": f"{item['name']} {n:03d}" if item["count"] > 1 else item["name"],
        "asset_class": item["asset_class"],
        "contract_item": item["key"],
        "product": item["product"],
        "version": item.get("version", ""),
        "vendor": item.get("vendor", ""),
        "location": item.get("location", ""),
        "attributes": {"generated": ["code"], **({"baseline": item["baseline"]} if item.get("baseline") else {})},
    }
    if item.get("ip_prefix"):
        fields["ip"] = f"{item['ip_prefix']}{n}"
        fields["hostname"] = f"{item['hostname_prefix']}{n:03d}"
        fields["attributes"]["generated"] += ["ip", "hostname"]
    if item.get("cert_expires_on"):
        fields["cert_expires_on"] = dt.date.fromisoformat(item["cert_expires_on"])
        fields["attributes"]["generated"].append("cert_expires_on")
    return fields


def seed_inventory(*, unit: Unit | None = None) -> dict[str, int]:
    """Create what is missing of the contract's inventory (codes ``PREFIX-001`` …), owned by
    ``unit`` (default: the unit ``settings.GOVCENTER_OPS_CMDB_UNIT``), and the relations of
    the inventory's rules. Idempotent: existing codes and relations are left as they are.
    Without the unit (a fresh ``govcenter seed`` before the organisation exists) nothing is
    created: ``{"skipped": 1}``."""
    unit = unit or Unit.objects.filter(code=settings.GOVCENTER_OPS_CMDB_UNIT).first()
    if unit is None:
        return {"skipped": 1}
    data = inventory()
    counts = {"created": 0, "unchanged": 0, "relations": 0}
    by_key: dict[str, list[Asset]] = {}
    with transaction.atomic():
        existing = {a.code: a for a in Asset.objects.all()}
        app = data["application"]
        wanted = [("application", app["code"], {**{k: v for k, v in app.items() if k != "code"}, "attributes": {}})]
        for item in data["items"]:
            for n in range(1, item["count"] + 1):
                wanted.append((item["key"], f"{item['prefix']}-{n:03d}", _generated(item, n)))
        new = []
        for key, code, fields in wanted:
            asset = existing.get(code)
            if asset is None:
                asset = Asset(code=code, unit=unit, **fields)
                new.append(asset)
            by_key.setdefault(key, []).append(asset)
        counts["unchanged"] = len(wanted) - len(new)
        if new:
            Asset.objects.bulk_create(new)
            saved = {a.code: a for a in Asset.objects.filter(code__in=[a.code for a in new])}
            for assets in by_key.values():
                assets[:] = [saved.get(a.code, a) for a in assets]
            counts["created"] = len(new)
        known = set(AssetRelation.objects.values_list("source_id", "kind", "target_id"))
        relations = []
        for rule in data["relations"]:
            sources = [a for k in rule["sources"] for a in by_key.get(k, [])]
            targets = [a for k in rule["targets"] for a in by_key.get(k, [])]
            if not targets:
                continue
            if rule["match"] == "zip":
                pairs = list(zip(sources, targets, strict=False))
            elif rule["match"] == "spread":
                pairs = [(s, targets[i % len(targets)]) for i, s in enumerate(sources)]
            else:
                pairs = [(s, t) for s in sources for t in targets]
            for source, target in pairs:
                if (source.pk, rule["kind"], target.pk) in known:
                    continue
                _check_relation(source, rule["kind"], target)
                relations.append(AssetRelation(source=source, kind=rule["kind"], target=target))
                known.add((source.pk, rule["kind"], target.pk))
        AssetRelation.objects.bulk_create(relations)
        counts["relations"] = len(relations)
        if new or relations:
            # One entry for the whole load (the codes and relations it created).
            audit.record(action="ops.asset.seed", object_type="ops.asset", object_repr="O&M contract inventory",
                         reason="seed-inventory", changes={"after": {
                             "unit": unit.code, "created": [a.code for a in new],
                             "relations": [f"{r.source.code} {r.kind} {r.target.code}" for r in relations]}})  # fmt: skip
    return counts
