"""Navigation registry: each built module registers its section; unbuilt ones don't appear.

An app calls :func:`register` from its ``AppConfig.ready()``. The base template renders,
for the current user, only the sections that keep at least one item after two filters:

- the item's route exists (``reverse()`` succeeds) — a module whose views are not built
  yet, or not installed, simply does not show up: no placeholder pages;
- the user holds the item's function permission (if it names one);
- no section ordered earlier already shows the same page.

An app may also add items to another app's section with :func:`add_items` (e.g. the
accounts pages join the kernel's 系统管理 section).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    permission: str | None = None  # a function permission the user needs to see it
    icon: str = ""  # a file name (without .svg) in static/vendor/tabler-icons/
    args: tuple = ()  # the route's arguments (one view serving several pages)


@dataclass(frozen=True)
class NavSection:
    key: str
    label: str | Promise
    items: tuple[NavItem, ...] = field(default_factory=tuple)
    order: int = 100
    icon: str = ""


_registry: dict[str, NavSection] = {}


def register(section: NavSection) -> None:
    """Called from an app's ``AppConfig.ready()``; registering a key again replaces it,
    keeping items other apps added with :func:`add_items`."""
    existing = _registry.get(section.key)
    if existing is not None:
        known = {(item.url_name, item.args) for item in section.items}
        extra = tuple(item for item in existing.items if (item.url_name, item.args) not in known)
        section = replace(section, items=section.items + extra)
    _registry[section.key] = section


def add_items(section_key: str, *items: NavItem) -> None:
    """Append items to a section (created empty, order 100, if not registered yet)."""
    section = _registry.get(section_key) or NavSection(key=section_key, label=section_key)
    known = {(item.url_name, item.args) for item in section.items}
    new = tuple(item for item in items if (item.url_name, item.args) not in known)
    _registry[section_key] = replace(section, items=section.items + new)


def registered() -> list[NavSection]:
    return sorted(_registry.values(), key=lambda s: (s.order, s.key))


def _url(url_name: str, args: tuple = ()) -> str | None:
    try:
        return reverse(url_name, args=args)
    except NoReverseMatch:
        return None


def _is_active(path: str, url: str) -> bool:
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url.rstrip("/") + "/")


def sections_for(request) -> list[dict]:
    """The sections and items ``request.user`` may see, with the active one marked."""
    user = request.user
    path = request.path
    result = []
    shown: set[str] = set()
    for section in registered():
        items = []
        for item in section.items:
            if item.permission is not None and not user.has_perm(item.permission):
                continue
            url = _url(item.url_name, item.args)
            if url is None or url in shown:
                # Unbuilt, or already listed by a section ordered earlier (a module's own
                # section wins over the kernel's catch-all 系统管理 entry for the same page).
                continue
            shown.add(url)
            items.append({"label": item.label, "url": url, "icon": item.icon, "active": _is_active(path, url)})
        if items:
            result.append(
                {
                    "key": section.key,
                    "label": section.label,
                    "items": items,
                    "icon": section.icon,
                    "active": any(i["active"] for i in items),
                }
            )
    return result


def register_core() -> None:
    """The kernel's own sections: 工作台 and 系统管理 (called from CoreConfig.ready())."""
    from django.utils.translation import gettext_lazy as _

    register(
        NavSection(
            key="home",
            label=_("工作台"),
            order=0,
            icon="home",
            items=(NavItem(_("工作台"), "core:dashboard", icon="home"),),
        )
    )
    register(
        NavSection(
            key="org",
            label=_("组织机构"),
            icon="building-community",
            order=80,
            items=(
                NavItem(_("单位"), "core:unit_list", "core.view_unit", icon="building"),
                NavItem(_("用户"), "core:user_list", "core.view_user", icon="users"),
                NavItem(_("角色与权限"), "core:role_list", "core.view_role", icon="shield-lock"),
            ),
        )
    )
    register(
        NavSection(
            key="calendar",
            label=_("工作日历"),
            icon="calendar",
            order=85,
            items=(
                NavItem(_("月历"), "core:calendar", "core.manage_calendar", icon="calendar"),
                NavItem(_("全年调整"), "core:calendar_year", "core.manage_calendar", icon="list-details"),
            ),
        )
    )
    register(
        NavSection(
            key="system",
            label=_("系统管理"),
            order=900,
            icon="settings",
            items=(
                NavItem(_("登录锁定"), "core:account_lockouts", "core.manage_security", icon="lock"),
                NavItem(_("审计日志"), "core:audit_list", "core.view_audit", icon="file-certificate"),
                NavItem(_("短信发件箱"), "core:sms_outbox", "core.read_sms_outbox", icon="message"),
                NavItem(_("短信统计"), "core:sms_stats", "core.read_sms_outbox", icon="chart-bar"),
                NavItem(_("短信模板"), "core:sms_template_list", "core.manage_accounts", icon="message"),
            ),
        )
    )
