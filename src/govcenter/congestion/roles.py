"""Function permissions the congestion app adds to the kernel's built-in roles (through
``core.roles.contribute_permissions`` from ``CongestionConfig.ready()``; ``govcenter seed`` writes
them). Four roles take part in every subsystem:

* 治堵单位人员 (``congestion_staff``, own-unit scope): the handling units — they see what their
  unit is assigned and take the handling steps (sign for, report, reply, review a TIA, draft news);
* the Center's coordinators (``congestion_coordinator``, city-wide) — and its data staff
  (``data_staff``), who did this work before the coordinators had a role of their own: register,
  assign, accept, review, publish, rate, close, merge, import registers, urge (催办);
* leaders (``center_leader``): read everything, approve extensions, budget changes and news, urge.
"""

from __future__ import annotations

from govcenter.core.roles import contribute_permissions

C = "congestion."
# subsystem: (view, handling units', Center staff's, leaders')
SUBSYSTEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "suggestions": (
        ("view_suggestion",),
        ("reply_suggestion",),
        ("add_suggestion", "assign_suggestion", "change_suggestion"),
        (),
    ),
    "proposals": (
        ("view_proposal",),
        ("handle_proposal",),
        ("add_proposal", "assign_proposal", "review_proposal", "change_proposal", "approve_proposal_extension"),
        ("approve_proposal_extension",),
    ),
    "library": (
        ("view_policydocument", "view_researchproject", "view_publicityitem"),
        # keep their own documents' versions, their projects' expenses and deliverables, draft news
        ("change_policydocument", "change_researchproject", "add_publicityitem", "change_publicityitem"),
        (
            "add_policydocument", "change_policydocument", "publish_policydocument", "add_researchproject",
            "change_researchproject", "review_researchproject", "add_publicityitem", "change_publicityitem",
            "review_publicityitem",
        ),
        ("approve_researchproject", "review_publicityitem"),
    ),
    "works": (
        ("view_reliefwork", "view_infraproject"),
        ("report_reliefwork", "report_infraproject"),
        ("add_reliefwork", "change_reliefwork", "add_infraproject", "change_infraproject"),
        (),
    ),
    "supervision": (
        ("view_supervisiontask",),
        ("report_supervisiontask",),  # progress, extension requests, completion reports
        ("add_supervisiontask", "issue_supervisiontask", "review_supervisiontask"),
        ("review_supervisiontask",),
    ),
    "tia": (
        ("view_tiaapplication",),
        ("review_tiaapplication",),  # the review unit reviews, holds the meeting, decides
        ("add_tiaapplication", "accept_tiaapplication"),
        (),
    ),
    "cases": ((), (), ("urge_caseunit",), ("urge_caseunit",)),
}  # fmt: skip


def _contributions() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {
        "congestion_staff": [], "congestion_coordinator": [], "data_staff": [], "center_leader": []
    }  # fmt: skip
    for view, handlers, staff, leaders in SUBSYSTEMS.values():
        out["congestion_staff"] += [*view, *handlers]
        out["congestion_coordinator"] += [*view, *staff]
        out["data_staff"] += [*view, *staff]
        out["center_leader"] += [*view, *leaders]
    return {role: tuple(dict.fromkeys(C + p for p in perms)) for role, perms in out.items()}


CONTRIBUTIONS = _contributions()


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)
