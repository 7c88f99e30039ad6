"""SLA policies (办理时限政策) as data, and where they apply (DOMAIN §5.1–§5.3).

A policy names its legal basis, its unit (working days, calendar days or hours), its limit,
how far it may be extended and who approves that, what stops its clock, when the yellow card
comes and after how many overdue working days the unit head is told. Bindings attach a policy
to a target (a document's whole processing, a route step's task, an incoming document's
handling, a supervision item) for a document type, urgency and/or step name; the most specific
active binding wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base
from office_api.errors import ErrorCode, ErrorCollector


class TimeUnit(StrEnum):
    """What a limit counts."""

    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    HOURS = "hours"


class ExtensionApprover(StrEnum):
    """Who approves an extension (延期): the assigning person, the holder unit's head, or the General Office."""

    ASSIGNER = "assigner"
    UNIT_HEAD = "unit_head"
    GENERAL_OFFICE = "general_office"


class ClockStop(StrEnum):
    """Periods not counted against a limit (e.g. Administrative Licensing Law Art. 45)."""

    RETURNED_TO_DRAFTER = "returned_to_drafter"
    EXPERT_REVIEW = "expert_review"
    HEARING = "hearing"
    TESTING = "testing"


class BindingTarget(StrEnum):
    """What a bound policy times."""

    DOCUMENT = "document"
    TASK = "task"
    INCOMING = "incoming"
    SUPERVISION = "supervision"


#: Limits beyond these are refused as absurd (about four years of working days; a year of hours).
MAX_LIMIT = {TimeUnit.WORKING_DAYS: 1000, TimeUnit.CALENDAR_DAYS: 1500, TimeUnit.HOURS: 24 * 366}


class SlaPolicy(Base):
    """One time-limit policy, e.g. ``hotline-12345``: 5 working days, extension ≤ 10."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(500), default="")
    unit: Mapped[str] = mapped_column(String(16), default=TimeUnit.WORKING_DAYS.value)
    limit: Mapped[int] = mapped_column(Integer)
    #: Working days extensions may add in all (extensions are always counted in working days);
    #: 0 for a limit in hours.
    extension_limit: Mapped[int] = mapped_column(Integer, default=0)
    extension_approver: Mapped[str] = mapped_column(String(16), default=ExtensionApprover.ASSIGNER.value)
    clock_stops_for: Mapped[list[str]] = mapped_column(JSON, default=list)
    yellow_before: Mapped[int] = mapped_column(Integer, default=1)
    escalate_after: Mapped[int] = mapped_column(Integer, default=3)
    #: "3545" linked matters: business_licence | real_estate_registration | construction_permit.
    matter_type: Mapped[str | None] = mapped_column(String(40), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SlaBinding(Base):
    """Applies a policy to a target, narrowed by document type, urgency and step name (null = any)."""

    __tablename__ = "sla_bindings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(16))
    doc_type: Mapped[str | None] = mapped_column(String(20))
    urgency: Mapped[str | None] = mapped_column(String(16))
    step_name: Mapped[str | None] = mapped_column(String(64))


def validate_policy(
    *,
    unit: str,
    limit: int,
    extension_limit: int,
    yellow_before: int = 1,
    escalate_after: int = 3,
    extension_approver: str = ExtensionApprover.ASSIGNER.value,
    clock_stops_for: list[str] | None = None,
) -> None:
    """Refuse negative or absurd limits, unknown units, approvers and clock stops, naming each field."""
    errors = ErrorCollector()
    try:
        tu = TimeUnit(unit)
    except ValueError:
        errors.add(ErrorCode.INVALID_VALUE, "unit", detail="working_days, calendar_days or hours")
        errors.raise_if_any()
    cap = MAX_LIMIT[tu]
    if not 1 <= limit <= cap:
        errors.add(ErrorCode.INVALID_VALUE, "limit", detail=f"between 1 and {cap} {tu.value}")
    if tu is TimeUnit.HOURS and extension_limit:
        errors.add(ErrorCode.INVALID_VALUE, "extensionLimit", detail="0: a limit in hours is not extended")
    elif not 0 <= extension_limit <= MAX_LIMIT[TimeUnit.WORKING_DAYS]:
        errors.add(
            ErrorCode.INVALID_VALUE,
            "extensionLimit",
            detail=f"between 0 and {MAX_LIMIT[TimeUnit.WORKING_DAYS]} working days",
        )
    if not 0 <= yellow_before <= 30:
        errors.add(ErrorCode.INVALID_VALUE, "yellowBefore", detail="between 0 and 30 working days")
    if not 1 <= escalate_after <= 60:
        errors.add(ErrorCode.INVALID_VALUE, "escalateAfter", detail="between 1 and 60 working days")
    if extension_approver not in {a.value for a in ExtensionApprover}:
        errors.add(ErrorCode.INVALID_VALUE, "extensionApprover", detail="assigner, unit_head or general_office")
    for i, stop in enumerate(clock_stops_for or []):
        if stop not in {c.value for c in ClockStop}:
            errors.add(ErrorCode.INVALID_VALUE, f"clockStopsFor.{i}", detail=", ".join(c.value for c in ClockStop))
    errors.raise_if_any()


async def bindings_of_policies(session: AsyncSession, policy_ids: Sequence[int]) -> list[SlaBinding]:
    """The bindings of the given policies, by id (one query; for the ``SlaPolicy.bindings`` DataLoader)."""
    q = select(SlaBinding).where(SlaBinding.policy_id.in_(list(policy_ids))).order_by(SlaBinding.id)
    return list((await session.execute(q)).scalars())


async def policies(session: AsyncSession, *, include_inactive: bool = True) -> list[SlaPolicy]:
    """Every policy, by code."""
    q = select(SlaPolicy).order_by(SlaPolicy.code)
    if not include_inactive:
        q = q.where(SlaPolicy.active.is_(True))
    return list((await session.execute(q)).scalars())


async def policy_by_code(session: AsyncSession, code: str) -> SlaPolicy | None:
    """The policy with ``code``, active or not."""
    return (await session.execute(select(SlaPolicy).where(SlaPolicy.code == code))).scalar_one_or_none()


async def resolve_policy(
    session: AsyncSession,
    target: BindingTarget | str,
    *,
    doc_type: str | None = None,
    urgency: str | None = None,
    step_name: str | None = None,
) -> SlaPolicy | None:
    """The active policy bound most specifically to ``target`` for these attributes, or None.

    A binding matches when each of its non-null attributes equals the given one; among matches
    the one naming the most attributes wins (step name over urgency over document type on ties),
    then the lowest id.
    """
    rows = (
        await session.execute(
            select(SlaBinding, SlaPolicy)
            .join(SlaPolicy, SlaPolicy.id == SlaBinding.policy_id)
            .where(SlaBinding.target == str(target), SlaPolicy.active.is_(true()))
        )
    ).all()
    best: tuple[tuple[int, int, int, int, int], SlaPolicy] | None = None
    for binding, policy in rows:
        attrs = ((binding.step_name, step_name), (binding.urgency, urgency), (binding.doc_type, doc_type))
        if any(want is not None and want != have for want, have in attrs):
            continue
        named = [want is not None for want, _ in attrs]
        rank = (sum(named), int(named[0]), int(named[1]), int(named[2]), -binding.id)
        if best is None or rank > best[0]:
            best = (rank, policy)
    return best[1] if best else None


#: Policies seeded by migration 0020 (DOMAIN §5.1–§5.3). (code, name, basis, unit, limit,
#: extension limit, approver, clock stops, matter type)
SEED_POLICIES: list[tuple[str, str, str, str, int, int, str, list[str], str | None]] = [
    (
        "hotline-12345",
        "12345 热线工单办理",
        "山东省政务服务热线管理办法（2020）：5 个工作日内办结答复，复杂事项可延期，一般不超过 10 个工作日",
        "working_days",
        5,
        10,
        "assigner",
        ["returned_to_drafter"],
        None,
    ),
    (
        "hotline-misrouted",
        "12345 非本单位职责工单退回",
        "山东省政务服务热线管理办法（2020）：不属于本单位职责的，2 个工作日内说明理由退回",
        "working_days",
        2,
        0,
        "assigner",
        [],
        None,
    ),
    (
        "provincial-complaint",
        "省级投诉办理",
        "山东省省级投诉处理办法（2017）：15 个工作日办结，期限内可申请延期一次 7 个工作日",
        "working_days",
        15,
        7,
        "general_office",
        ["returned_to_drafter"],
        None,
    ),
    (
        "licence-decision",
        "行政许可决定",
        "《行政许可法》第四十二条、第八十二条：20 个工作日，经本机关负责人批准可延长 10 个工作日",
        "working_days",
        20,
        10,
        "unit_head",
        ["expert_review", "hearing", "testing"],
        None,
    ),
    (
        "info-disclosure",
        "政府信息公开申请答复",
        "《政府信息公开条例》（2019 修订）第三十三条：20 个工作日，经负责人同意可延长 20 个工作日",
        "working_days",
        20,
        20,
        "unit_head",
        [],
        None,
    ),
    (
        "3545-business-licence",
        "“3545”企业开办（营业执照）",
        "山东省“一链办理”改革（2018）“3545”目标：企业开办 3 个工作日内完成",
        "working_days",
        3,
        0,
        "unit_head",
        ["returned_to_drafter"],
        "business_licence",
    ),
    (
        "3545-real-estate",
        "“3545”不动产登记",
        "“3545”目标；国务院办公厅关于压缩不动产登记办理时间的通知（2019）：5 个工作日",
        "working_days",
        5,
        0,
        "unit_head",
        ["returned_to_drafter"],
        "real_estate_registration",
    ),
    (
        "3545-construction-permit",
        "“3545”工程建设项目施工许可",
        "“3545”目标；山东省优化提升工程建设项目审批制度改革实施方案（2019）：45 个工作日",
        "working_days",
        45,
        0,
        "unit_head",
        ["returned_to_drafter", "expert_review"],
        "construction_permit",
    ),
    (
        "document-review",
        "公文审核环节",
        "本平台默认：一般公文每个审核环节 3 个工作日（REG Art. 19–21 未规定时限，按本机关规定）",
        "working_days",
        3,
        3,
        "assigner",
        [],
        None,
    ),
    (
        "document-urgent",
        "加急公文办理",
        "本平台默认：加急公文每个环节 1 个工作日（GB/T 9704-2012 §7.2.4 紧急程度）",
        "working_days",
        1,
        1,
        "assigner",
        [],
        None,
    ),
    (
        "document-extra-urgent",
        "特急公文办理",
        "本平台默认：特急公文每个环节 24 小时（GB/T 9704-2012 §7.2.4 紧急程度）",
        "hours",
        24,
        0,
        "assigner",
        [],
        None,
    ),
    (
        "incoming-default",
        "收文办理（未明确时限）",
        "县级督查工作规则通例：公文未明确时限的，30 日内办结（DOMAIN §5.3）",
        "calendar_days",
        30,
        15,
        "assigner",
        [],
        None,
    ),
    (
        "supervision-instruction",
        "领导批示督办事项",
        "督查工作通例：领导批示事项一般 15 日内办结（DOMAIN §5.3）",
        "calendar_days",
        15,
        15,
        "assigner",
        [],
        None,
    ),
    (
        "supervision-minutes",
        "会议纪要督办事项",
        "督查工作通例：会议纪要事项 20 日内办结（DOMAIN §5.3）",
        "calendar_days",
        20,
        20,
        "assigner",
        [],
        None,
    ),
]

#: Default bindings seeded with the policies: (policy code, target, doc type, urgency, step name).
SEED_BINDINGS: list[tuple[str, str, str | None, str | None, str | None]] = [
    ("document-review", "task", None, None, None),
    ("document-urgent", "task", None, "urgent", None),
    ("document-extra-urgent", "task", None, "extra_urgent", None),
    ("incoming-default", "incoming", None, None, None),
    ("document-urgent", "incoming", None, "urgent", None),
    ("document-extra-urgent", "incoming", None, "extra_urgent", None),
    ("supervision-instruction", "supervision", None, None, None),
]
