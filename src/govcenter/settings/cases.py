"""Case machinery shared by the apps (docs/decisions/0006-case-machinery.md): deadline warnings."""

from __future__ import annotations

from .base import MEDIA_ROOT
from .env import ConfigError, env_int, env_json, env_list, env_str

# Deadline warning colours (core/deadlines.py): blue when this few working days are left;
# yellow when behind schedule — the share of working time used exceeds the reported progress
# by more than BEHIND_MARGIN_PCT points (or a planned milestone slipped); red when overdue.
GOVCENTER_DEADLINE_NEAR_WORKDAYS = env_int("GOVCENTER_DEADLINE_NEAR_WORKDAYS", 3)
GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT = env_int("GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT", 20)
if GOVCENTER_DEADLINE_NEAR_WORKDAYS < 0:
    raise ConfigError("GOVCENTER_DEADLINE_NEAR_WORKDAYS must be 0 or more")
if not 0 <= GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT <= 100:
    raise ConfigError("GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT must be a percentage, 0–100")

# Attachments (core/attachments.py): where the bytes live, the largest file, the kinds allowed
# (by their content, not their name): pdf, docx, xlsx, png, jpeg, txt.
GOVCENTER_ATTACHMENT_DIR = env_str("GOVCENTER_ATTACHMENT_DIR", str(MEDIA_ROOT / "attachments"))
GOVCENTER_ATTACHMENT_MAX_BYTES = env_int("GOVCENTER_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
GOVCENTER_ATTACHMENT_KINDS = env_list("GOVCENTER_ATTACHMENT_KINDS", ["pdf", "docx", "xlsx", "png", "jpeg", "txt"])
if GOVCENTER_ATTACHMENT_MAX_BYTES <= 0:
    raise ConfigError("GOVCENTER_ATTACHMENT_MAX_BYTES must be a positive integer")
# Where the bytes live: "local" (files under GOVCENTER_ATTACHMENT_DIR) or "s3" (a bucket of an
# S3-compatible object store, keys <prefix><SM3 hex>). The access key and secret are never
# settings: boto3 reads them itself (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the
# environment, or its other credential sources). An empty endpoint URL means AWS itself.
GOVCENTER_ATTACHMENT_STORAGE = env_str("GOVCENTER_ATTACHMENT_STORAGE", "local")
GOVCENTER_ATTACHMENT_S3_BUCKET = env_str("GOVCENTER_ATTACHMENT_S3_BUCKET", "")
GOVCENTER_ATTACHMENT_S3_PREFIX = env_str("GOVCENTER_ATTACHMENT_S3_PREFIX", "attachments/")
GOVCENTER_ATTACHMENT_S3_ENDPOINT_URL = env_str("GOVCENTER_ATTACHMENT_S3_ENDPOINT_URL", "")
GOVCENTER_ATTACHMENT_S3_REGION = env_str("GOVCENTER_ATTACHMENT_S3_REGION", "")
# "auto" (boto3 decides), "path" (most self-hosted stores: MinIO, Ceph) or "virtual".
GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE = env_str("GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE", "auto")
# Connect / read timeout of one request and the attempts per call before the storage is
# reported unavailable (503 storage_unavailable).
GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS = env_int("GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS", 10)
GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS = env_int("GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS", 3)
if GOVCENTER_ATTACHMENT_STORAGE not in {"local", "s3"}:
    raise ConfigError(f"GOVCENTER_ATTACHMENT_STORAGE={GOVCENTER_ATTACHMENT_STORAGE!r}: use local or s3")
if GOVCENTER_ATTACHMENT_STORAGE == "s3" and not GOVCENTER_ATTACHMENT_S3_BUCKET:
    raise ConfigError("GOVCENTER_ATTACHMENT_STORAGE=s3 needs GOVCENTER_ATTACHMENT_S3_BUCKET")
if GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE not in {"auto", "path", "virtual"}:
    raise ConfigError("GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE: use auto, path or virtual")
if GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS <= 0 or GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS <= 0:
    raise ConfigError("GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS and _MAX_ATTEMPTS must be positive integers")

# Congestion relief (govcenter.congestion): working days a lead unit has to answer a suggestion.
GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS = env_int("GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS", 15)
if GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS <= 0:
    raise ConfigError("GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS must be a positive integer")
# The public suggestion form (no login): submissions per source address (DRF rate syntax).
GOVCENTER_CONGESTION_PUBLIC_RATE = env_str("GOVCENTER_CONGESTION_PUBLIC_RATE", "10/hour")

# Congestion relief, across the subsystems: no second urging notice (催办) to the same unit for
# the same case within this many hours; the largest Excel export of a list.
GOVCENTER_CONGESTION_URGE_MIN_HOURS = env_int("GOVCENTER_CONGESTION_URGE_MIN_HOURS", 24)
GOVCENTER_CONGESTION_EXPORT_MAX_ROWS = env_int("GOVCENTER_CONGESTION_EXPORT_MAX_ROWS", 50_000)
if GOVCENTER_CONGESTION_URGE_MIN_HOURS < 0 or GOVCENTER_CONGESTION_EXPORT_MAX_ROWS <= 0:
    raise ConfigError("GOVCENTER_CONGESTION_URGE_MIN_HOURS must be ≥ 0 and _EXPORT_MAX_ROWS positive")
# -- proposals (人大建议 / 政协提案) --
# Working days an assigned unit has to sign for (签收) or return (退办) a proposal; calendar
# months the lead has to reply after assignment, and to re-handle after a 不满意 rating; months a
# B-class follow-up (再次答复) is due after the reply when the lead gives no planned date.
GOVCENTER_CONGESTION_PROPOSAL_SIGN_WORKDAYS = env_int("GOVCENTER_CONGESTION_PROPOSAL_SIGN_WORKDAYS", 5)
GOVCENTER_CONGESTION_PROPOSAL_REPLY_MONTHS = env_int("GOVCENTER_CONGESTION_PROPOSAL_REPLY_MONTHS", 3)
GOVCENTER_CONGESTION_PROPOSAL_REHANDLE_MONTHS = env_int("GOVCENTER_CONGESTION_PROPOSAL_REHANDLE_MONTHS", 1)
GOVCENTER_CONGESTION_PROPOSAL_FOLLOWUP_MONTHS = env_int("GOVCENTER_CONGESTION_PROPOSAL_FOLLOWUP_MONTHS", 6)
for _name in ("SIGN_WORKDAYS", "REPLY_MONTHS", "REHANDLE_MONTHS", "FOLLOWUP_MONTHS"):
    if globals()[f"GOVCENTER_CONGESTION_PROPOSAL_{_name}"] <= 0:
        raise ConfigError(f"GOVCENTER_CONGESTION_PROPOSAL_{_name} must be a positive integer")
# -- end proposals --
# --- tia (交通影响评价, congestion subsystem 8) ------------------------------------------------
# Working-day time limits of the stages of a traffic impact assessment (state → working days):
# 受理 (acceptance check) 5; the applicant's 补正 (supplement) 10; 形式/内容审查 (review) 20;
# convening the 专家评审会 (meeting) 10; the 评审意见 after the meeting (opinion) 5; the
# applicant's 修改 round (revision) 20; 送达 (delivery) 5. JSON object; keys left out keep their
# default.
_TIA_WORKDAYS_DEFAULT = {
    "acceptance": 5, "supplement": 10, "review": 20, "meeting": 10, "opinion": 5, "revision": 20, "delivery": 5,
}  # fmt: skip


GOVCENTER_CONGESTION_TIA_WORKDAYS = {
    **_TIA_WORKDAYS_DEFAULT,
    **env_json("GOVCENTER_CONGESTION_TIA_WORKDAYS", {}),
}
if set(GOVCENTER_CONGESTION_TIA_WORKDAYS) != set(_TIA_WORKDAYS_DEFAULT) or not all(
    isinstance(v, int) and 1 <= v <= 250 for v in GOVCENTER_CONGESTION_TIA_WORKDAYS.values()
):
    raise ConfigError(
        "GOVCENTER_CONGESTION_TIA_WORKDAYS must map only "
        + ", ".join(_TIA_WORKDAYS_DEFAULT)
        + " to working days (1–250)"
    )
# Beijing's trigger thresholds for a TIA (above-ground floor area, m²) by area and use. ring2 =
# inside the 2nd Ring (any use over 5,000 m²); central = the six central districts, subcentre =
# the city sub-centre (public buildings 10,000 m², residential 30,000 m²); other = the rest of
# the city — our choice, stated in docs/configuration.md: public 20,000 m², residential
# 50,000 m². Industrial is held to the residential figure, mixed use to the (stricter) public
# one. JSON object {area: {use: m²}}; areas/uses left out keep their default.
_TIA_THRESHOLDS_DEFAULT = {
    "ring2": {"residential": 5000, "public": 5000, "industrial": 5000, "mixed": 5000},
    "central": {"residential": 30000, "public": 10000, "industrial": 30000, "mixed": 10000},
    "subcentre": {"residential": 30000, "public": 10000, "industrial": 30000, "mixed": 10000},
    "other": {"residential": 50000, "public": 20000, "industrial": 50000, "mixed": 20000},
}
_tia_thresholds = env_json("GOVCENTER_CONGESTION_TIA_THRESHOLDS", {})
if not isinstance(_tia_thresholds, dict) or not set(_tia_thresholds) <= set(_TIA_THRESHOLDS_DEFAULT):
    raise ConfigError(
        "GOVCENTER_CONGESTION_TIA_THRESHOLDS must be an object keyed by ring2/central/subcentre/other"
    )
GOVCENTER_CONGESTION_TIA_THRESHOLDS = {
    area: {**uses, **(_tia_thresholds.get(area) or {})} for area, uses in _TIA_THRESHOLDS_DEFAULT.items()
}
for _area, _uses in GOVCENTER_CONGESTION_TIA_THRESHOLDS.items():
    if set(_uses) != set(_TIA_THRESHOLDS_DEFAULT[_area]) or not all(
        isinstance(v, int | float) and v > 0 for v in _uses.values()
    ):
        raise ConfigError(
            f"GOVCENTER_CONGESTION_TIA_THRESHOLDS[{_area!r}]: residential/public/industrial/mixed > 0"
        )
# District codes of the six central districts (东城 西城 朝阳 海淀 丰台 石景山) and of the city
# sub-centre (通州 as a whole — the sub-centre proper is ~155 km² of it; choose 城市副中心 by hand
# at registration when the distinction matters).
GOVCENTER_CONGESTION_TIA_CENTRAL_DISTRICTS = env_list(
    "GOVCENTER_CONGESTION_TIA_CENTRAL_DISTRICTS", ["110101", "110102", "110105", "110106", "110107", "110108"]
)
GOVCENTER_CONGESTION_TIA_SUBCENTRE_DISTRICTS = env_list(
    "GOVCENTER_CONGESTION_TIA_SUBCENTRE_DISTRICTS", ["110112"]
)
# The 2nd Ring as a polygon of [lon, lat] GCJ-02 vertices (JSON list); empty = the approximate
# polygon shipped in congestion/services/tia.py (RING2_GCJ02, accurate to a few hundred metres).
GOVCENTER_CONGESTION_TIA_RING2 = env_json("GOVCENTER_CONGESTION_TIA_RING2", None)
if GOVCENTER_CONGESTION_TIA_RING2 is not None and (
    not isinstance(GOVCENTER_CONGESTION_TIA_RING2, list) or len(GOVCENTER_CONGESTION_TIA_RING2) < 3
):
    raise ConfigError("GOVCENTER_CONGESTION_TIA_RING2 must be a JSON list of at least 3 [lon, lat] points")
# The materials an application must carry before it is accepted (受理): keys, each optionally
# with its label as key:label (the four defaults have translated labels).
GOVCENTER_CONGESTION_TIA_MATERIALS = env_list(
    "GOVCENTER_CONGESTION_TIA_MATERIALS", ["application_form", "tia_report", "site_plan", "approval"]
)
if not GOVCENTER_CONGESTION_TIA_MATERIALS:
    raise ConfigError("GOVCENTER_CONGESTION_TIA_MATERIALS must name at least one material")
# --- end tia ------------------------------------------------------------------------------------
# -- supervision (缓堵工作督查督办, congestion/services/supervision.py) --
# Days between the progress reports (进展报告) a unit owes on each running task (default monthly);
# a period without one is a missing report (yellow warning, and a scoring deduction).
GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS = env_int("GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS", 30)
if GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS <= 0:
    raise ConfigError("GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS must be a positive integer")
# Scoring (考核评分, see the services' docstring): the credit (%) a late completion earns against an
# on-time one, and the points deducted per missing report, send-back and approved extension.
GOVCENTER_CONGESTION_SUPERVISION_SCORE = {
    "late_credit_pct": env_int("GOVCENTER_CONGESTION_SUPERVISION_SCORE_LATE_CREDIT_PCT", 60),
    "missing_report": env_int("GOVCENTER_CONGESTION_SUPERVISION_SCORE_MISSING_REPORT", 2),
    "send_back": env_int("GOVCENTER_CONGESTION_SUPERVISION_SCORE_SEND_BACK", 3),
    "extension": env_int("GOVCENTER_CONGESTION_SUPERVISION_SCORE_EXTENSION", 1),
}
if not 0 <= GOVCENTER_CONGESTION_SUPERVISION_SCORE["late_credit_pct"] <= 100:
    raise ConfigError("GOVCENTER_CONGESTION_SUPERVISION_SCORE_LATE_CREDIT_PCT must be a percentage, 0–100")
if any(v < 0 for v in GOVCENTER_CONGESTION_SUPERVISION_SCORE.values()):
    raise ConfigError("GOVCENTER_CONGESTION_SUPERVISION_SCORE_* weights must be 0 or more")
# -- end supervision --
