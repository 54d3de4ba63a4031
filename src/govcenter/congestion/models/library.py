"""政策研究信息, 科研项目信息 and 宣传: the Center's document library (versions, tags, full text),
its research projects (立项 → 合同 → 中期检查 → 验收 → 结题, budget lines and deliverables), and its
news and notices (review before publishing, a public page for citizens).

Each is a :class:`~govcenter.congestion.models.Case`: the unit that owns it is its 责任单位 (a
``CaseUnit``), which is also who of the handling units sees it. Writes that do not move the state
(a new version, an expenditure line, a deliverable, a budget adjustment) are transitions that
keep it (``target=None``): the workflow runner gives them permission checks, history and audit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from .cases import Case, UnitRole


def _perm(codename: str):
    def check(instance, user) -> bool:
        return user.has_perm(f"congestion.{codename}")

    check.__name__ = f"can_{codename}"
    return check


def _owner_with(codename: str):
    """The user holds the permission and works in (a sub-unit of) the owning unit — or has it
    city-wide (Center staff: their scope is not their own unit)."""

    def check(instance, user) -> bool:
        from govcenter.core.models import Unit
        from govcenter.core.scope import scope_for

        if not user.has_perm(f"congestion.{codename}"):
            return False
        if scope_for(user).all:
            return True
        if getattr(user, "unit", None) is None:
            return False
        mine = Unit.objects.subtree_ids(user.unit)
        return instance.units.filter(role=UnitRole.RESPONSIBLE, unit_id__in=mine).exists()

    check.__name__ = f"owner_{codename}"
    return check


# -- 政策研究信息 ----------------------------------------------------------------------------------


class PolicyState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    ARCHIVED = "archived", _("已归档")
    WITHDRAWN = "withdrawn", _("已撤回")


class PolicyCategory(models.TextChoices):
    REGULATION = "regulation", _("法规")
    POLICY = "policy", _("政策")
    REPORT = "report", _("研究报告")
    STANDARD = "standard", _("标准规范")
    OTHER = "other", _("其他")


class PolicyTag(models.Model):
    """A free tag (标签), shared by the documents that carry it (many-to-many: portable)."""

    name = models.CharField(_("标签"), max_length=30, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("标签")
        verbose_name_plural = _("标签")

    def __str__(self) -> str:
        return self.name


class PolicyDocument(Case):
    state = FSMField(_("状态"), default=PolicyState.DRAFT, choices=PolicyState.choices, protected=True)
    doc_number = models.CharField(_("文号"), max_length=60, blank=True)
    issuer = models.CharField(_("发文机关"), max_length=100)
    issued_on = models.DateField(_("发文日期"))
    category = models.CharField(_("类别"), max_length=12, choices=PolicyCategory.choices)
    tags = models.ManyToManyField(PolicyTag, blank=True, related_name="documents", verbose_name=_("标签"))
    abstract = models.TextField(_("摘要"), blank=True)
    version = models.PositiveSmallIntegerField(_("当前版本"), default=1)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    withdraw_reason = models.CharField(_("撤回理由"), max_length=500, blank=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        verbose_name = _("政策研究文件")
        verbose_name_plural = _("政策研究文件")
        permissions = [("publish_policydocument", _("发布、归档、撤回政策研究文件"))]
        indexes = [models.Index(fields=["category", "issued_on"], name="congestion_policy_cat_day")]

    @transition(field=state, source=PolicyState.DRAFT, target=PolicyState.PUBLISHED,
                permission=_perm("publish_policydocument"))  # fmt: skip
    def publish(self, *, at):
        self.published_at = at

    @transition(field=state, source=PolicyState.PUBLISHED, target=PolicyState.ARCHIVED,
                permission=_perm("publish_policydocument"))  # fmt: skip
    def archive(self, *, at):
        self.closed_at = at

    @transition(field=state, source=[PolicyState.PUBLISHED, PolicyState.ARCHIVED], target=PolicyState.WITHDRAWN,
                permission=_perm("publish_policydocument"))  # fmt: skip
    def withdraw(self, *, reason: str, at):
        self.withdraw_reason, self.closed_at = reason, at

    @transition(field=state, source=[PolicyState.DRAFT, PolicyState.PUBLISHED], target=None,
                permission=_owner_with("change_policydocument"))  # fmt: skip
    def add_version(self):
        self.version += 1


class PolicyVersion(models.Model):
    """One version of a document: its text and file stay readable after a newer one."""

    document = models.ForeignKey(PolicyDocument, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField(_("版本号"))
    note = models.CharField(_("版本说明"), max_length=500, blank=True)
    body = models.TextField(_("正文"), blank=True)
    attachment = models.ForeignKey(
        "core.Attachment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("附件"),
    )
    created_at = models.DateTimeField(_("时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["document", "number"]
        verbose_name = _("文件版本")
        verbose_name_plural = _("文件版本")
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="congestion_policyversion_once")
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


# -- 科研项目信息 ----------------------------------------------------------------------------------


class ProjectState(models.TextChoices):
    INITIATED = "initiated", _("已立项")
    CONTRACTED = "contracted", _("已签合同")
    RECTIFYING = "rectifying", _("中期整改")
    REVIEWED = "reviewed", _("中期检查通过")
    ACCEPTED = "accepted", _("已验收")
    FAILED = "failed", _("验收不通过")
    CLOSED = "closed", _("已结题")


class MidtermConclusion(models.TextChoices):
    PASS = "pass", _("通过")
    RECTIFY = "rectify", _("整改")


class AcceptanceConclusion(models.TextChoices):
    PASSED = "passed", _("通过")
    FAILED = "failed", _("不通过")
    POSTPONED = "postponed", _("延期验收")


class DeliverableType(models.TextChoices):
    REPORT = "report", _("研究报告")
    PAPER = "paper", _("论文")
    SOFTWARE = "software", _("软件")
    PATENT = "patent", _("专利")


class ExpenseCategory(models.TextChoices):
    EQUIPMENT = "equipment", _("设备费")
    MATERIAL = "material", _("材料费")
    TRAVEL = "travel", _("差旅费")
    MEETING = "meeting", _("会议费")
    LABOUR = "labour", _("劳务费")
    CONSULTING = "consulting", _("专家咨询费")
    OUTSOURCING = "outsourcing", _("测试化验加工费")
    OTHER = "other", _("其他")


_PROJECT_RUNNING = [
    ProjectState.INITIATED,
    ProjectState.CONTRACTED,
    ProjectState.RECTIFYING,
    ProjectState.REVIEWED,
]


class ResearchProject(Case):
    state = FSMField(_("状态"), default=ProjectState.INITIATED, choices=ProjectState.choices, protected=True)
    organisation = models.CharField(_("承担单位"), max_length=100)
    investigator_name = models.CharField(_("项目负责人"), max_length=50)
    investigator_phone = models.CharField(_("负责人电话"), max_length=20, blank=True)
    budget_fen = models.BigIntegerField(_("预算（分）"))
    contract_number = models.CharField(_("合同编号"), max_length=60, blank=True)
    contract_date = models.DateField(_("合同签订日期"), null=True, blank=True)
    contract_amount_fen = models.BigIntegerField(_("合同金额（分）"), null=True, blank=True)
    midterm_date = models.DateField(_("中期检查日期"), null=True, blank=True)
    midterm_conclusion = models.CharField(
        _("中期检查结论"), max_length=10, choices=MidtermConclusion.choices, blank=True
    )
    midterm_opinion = models.TextField(_("中期检查意见"), blank=True)
    acceptance_date = models.DateField(_("验收日期"), null=True, blank=True)
    acceptance_conclusion = models.CharField(
        _("验收结论"), max_length=10, choices=AcceptanceConclusion.choices, blank=True
    )
    acceptance_experts = models.CharField(_("验收专家"), max_length=500, blank=True)
    spent_fen = models.BigIntegerField(_("已支出（分）"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("科研项目")
        verbose_name_plural = _("科研项目")
        permissions = [
            ("review_researchproject", _("科研项目中期检查与验收")),
            ("approve_researchproject", _("批准科研项目预算调整")),
        ]
        indexes = [models.Index(fields=["state", "deadline"], name="congestion_research_state_due")]

    @transition(field=state, source=ProjectState.INITIATED, target=ProjectState.CONTRACTED,
                permission=_owner_with("change_researchproject"))  # fmt: skip
    def sign_contract(self, *, number: str, day, amount_fen: int):
        self.contract_number, self.contract_date, self.contract_amount_fen = number, day, amount_fen

    @transition(field=state, source=[ProjectState.CONTRACTED, ProjectState.RECTIFYING],
                target=RETURN_VALUE(ProjectState.REVIEWED, ProjectState.RECTIFYING),
                permission=_perm("review_researchproject"))  # fmt: skip
    def midterm(self, *, day, conclusion: str, opinion: str):
        self.midterm_date, self.midterm_conclusion, self.midterm_opinion = day, conclusion, opinion
        return ProjectState.REVIEWED if conclusion == MidtermConclusion.PASS else ProjectState.RECTIFYING

    @transition(field=state, source=ProjectState.REVIEWED,
                target=RETURN_VALUE(ProjectState.ACCEPTED, ProjectState.FAILED, ProjectState.REVIEWED),
                permission=_perm("review_researchproject"))  # fmt: skip
    def accept(self, *, day, conclusion: str, experts: str):
        """验收: 通过 / 不通过 end the review; 延期验收 leaves it waiting for another one."""
        self.acceptance_date, self.acceptance_conclusion, self.acceptance_experts = day, conclusion, experts
        return {
            AcceptanceConclusion.PASSED: ProjectState.ACCEPTED,
            AcceptanceConclusion.FAILED: ProjectState.FAILED,
        }.get(conclusion, ProjectState.REVIEWED)

    @transition(field=state, source=[ProjectState.ACCEPTED, ProjectState.FAILED], target=ProjectState.CLOSED,
                permission=_perm("review_researchproject"))  # fmt: skip
    def close(self, *, at):
        self.closed_at = at

    @transition(field=state, source=_PROJECT_RUNNING, target=None,
                permission=_owner_with("change_researchproject"))  # fmt: skip
    def add_expense(self, *, amount_fen: int):
        self.spent_fen += amount_fen

    @transition(field=state, source=[*_PROJECT_RUNNING, ProjectState.ACCEPTED], target=None,
                permission=_owner_with("change_researchproject"))  # fmt: skip
    def add_deliverable(self):
        pass

    @transition(
        field=state, source=_PROJECT_RUNNING, target=None, permission=_perm("approve_researchproject")
    )
    def adjust_budget(self, *, budget_fen: int):
        self.budget_fen = budget_fen


class ProjectExpense(models.Model):
    project = models.ForeignKey(ResearchProject, on_delete=models.CASCADE, related_name="expenses")
    category = models.CharField(_("支出科目"), max_length=12, choices=ExpenseCategory.choices)
    amount_fen = models.BigIntegerField(_("金额（分）"))
    spent_on = models.DateField(_("支出日期"))
    note = models.CharField(_("备注"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("登记时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["project", "spent_on", "id"]
        verbose_name = _("项目支出")
        verbose_name_plural = _("项目支出")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="congestion_expense_positive")
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.amount_fen}"


class ProjectDeliverable(models.Model):
    project = models.ForeignKey(ResearchProject, on_delete=models.CASCADE, related_name="deliverables")
    kind = models.CharField(_("成果类型"), max_length=10, choices=DeliverableType.choices)
    title = models.CharField(_("成果名称"), max_length=200)
    day = models.DateField(_("日期"))
    attachment = models.ForeignKey(
        "core.Attachment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("附件"),
    )
    created_at = models.DateTimeField(_("登记时间"))

    class Meta:
        ordering = ["project", "day", "id"]
        verbose_name = _("项目成果")
        verbose_name_plural = _("项目成果")

    def __str__(self) -> str:
        return self.title


# -- 宣传 ------------------------------------------------------------------------------------------


class PublicityState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    PUBLISHED = "published", _("已发布")
    WITHDRAWN = "withdrawn", _("已撤回")


class PublicityType(models.TextChoices):
    NEWS = "news", _("新闻")
    NOTICE = "notice", _("通知公告")


class PublicityItem(Case):
    state = FSMField(_("状态"), default=PublicityState.DRAFT, choices=PublicityState.choices, protected=True)
    kind = models.CharField(_("类型"), max_length=8, choices=PublicityType.choices)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    return_reason = models.CharField(_("退回理由"), max_length=500, blank=True)
    withdraw_reason = models.CharField(_("撤回理由"), max_length=500, blank=True)

    class Meta:
        ordering = ["-published_at", "-created_at", "-id"]
        verbose_name = _("宣传稿件")
        verbose_name_plural = _("宣传稿件")
        permissions = [("review_publicityitem", _("审核发布宣传稿件"))]
        indexes = [models.Index(fields=["state", "published_at"], name="congestion_publicity_pub")]

    @transition(field=state, source=PublicityState.DRAFT, target=PublicityState.SUBMITTED,
                permission=_owner_with("change_publicityitem"))  # fmt: skip
    def submit(self):
        self.return_reason = ""

    @transition(field=state, source=PublicityState.SUBMITTED, target=PublicityState.PUBLISHED,
                permission=_perm("review_publicityitem"))  # fmt: skip
    def approve(self, *, at):
        self.published_at = at

    @transition(field=state, source=PublicityState.SUBMITTED, target=PublicityState.DRAFT,
                permission=_perm("review_publicityitem"))  # fmt: skip
    def send_back(self, *, reason: str):
        self.return_reason = reason

    @transition(field=state, source=PublicityState.PUBLISHED, target=PublicityState.WITHDRAWN,
                permission=_perm("review_publicityitem"))  # fmt: skip
    def withdraw(self, *, reason: str, at):
        self.withdraw_reason, self.closed_at = reason, at

    @transition(field=state, source=PublicityState.DRAFT, target=None,
                permission=_owner_with("change_publicityitem"))  # fmt: skip
    def add_files(self):
        pass
