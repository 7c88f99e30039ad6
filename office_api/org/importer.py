"""Import organization units from CSV, idempotent by unit code, all-or-nothing.

Three layouts are recognised by their header row (UTF-8, with or without BOM):

* divisions, ``code,name,level,parent_code`` (GB/T 2260, as in
  ``office_api/data/shandong_divisions.csv``): each row is that level's people's
  government, code and ``division_code`` = the six-digit code, name ``<name>人民政府``;
* provincial departments, ``key,name,short_name,doc_number_root``: department units under
  the province (``--parent``, default 370000) with code ``<parent>-<key>``; the ``gov`` row
  is the province's government itself and only sets its document-number root;
* generic, ``code,name,kind,parent_code[,division_code,short_name,doc_number_root]``.

Re-importing a file changes nothing; a unit missing from the file is never deleted or
deactivated. Any invalid row aborts the whole import with a per-row report.

:func:`import_org` also recognises the users layout (``username,display_name,unit_code,
title,...``, see :mod:`office_api.org.transfer`) and dispatches on the header.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork
from office_api.errors import DomainError, DomainErrors
from office_api.org.models import UNIT_KINDS, OrgUnit, UnitKind
from office_api.org.permissions import Actor
from office_api.org.service import CODE_RE, DIVISION_RE, UnitInput, create_unit, unit_state
from office_api.org.transfer import (
    USERS_HEADER,
    Progress,
    UsersReport,
    header_of,
    import_users,
    is_users_header,
    refuse,
)
from office_api.text import trimmed

#: Largest CSV accepted by the GraphQL mutation (bytes of UTF-8).
MAX_IMPORT_BYTES = 5 * 1024 * 1024

DIVISION_HEADER = ["code", "name", "level", "parent_code"]
DEPARTMENT_HEADER = ["key", "name", "short_name", "doc_number_root"]
GENERIC_REQUIRED = ["code", "name", "kind", "parent_code"]
GENERIC_OPTIONAL = ["division_code", "short_name", "doc_number_root"]
DIVISION_LEVELS = ("province", "prefecture", "county", "township")


@dataclass
class ImportReport:
    """What an import did: units created, updated (name, short name or document-number
    root changed) and unchanged."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class _Row:
    line: int
    code: str
    name: str
    kind: str
    parent_code: str | None
    division_code: str | None = None
    short_name: str | None = None
    doc_number_root: str | None = None
    only_root: bool = False  # the `gov` row: only sets doc_number_root
    code_field: str = "code"  # the column the code comes from (`key` for departments)
    kind_field: str = "kind"  # the column the kind comes from (`level` for divisions)
    code_checked: bool = False  # the code was already reported by the layout's own rule


def _parse(text: str, default_parent: str) -> tuple[list[_Row], list[tuple[int, str, str]]]:
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows: list[_Row] = []
    problems: list[tuple[int, str, str]] = []
    expected = " | ".join(
        ",".join(h) for h in (DIVISION_HEADER, DEPARTMENT_HEADER, GENERIC_REQUIRED + GENERIC_OPTIONAL)
    )
    if header == DIVISION_HEADER:
        layout = "division"
    elif header == DEPARTMENT_HEADER:
        layout = "department"
    elif all(h in header for h in GENERIC_REQUIRED):
        layout = "generic"
        unknown = [h for h in header if h not in GENERIC_REQUIRED + GENERIC_OPTIONAL]
        repeated = sorted({h for h in header if header.count(h) > 1})
        if unknown or repeated:
            what = f"unknown column {', '.join(unknown)}" if unknown else f"repeated column {', '.join(repeated)}"
            return [], [(1, "header", f"{what}; expected {expected}")]
    else:
        every = f"{expected} | {','.join(USERS_HEADER)}"
        return [], [(1, "header", f"unknown layout: expected {every}")]
    for rec in reader:
        line = reader.line_num
        if None in rec:
            problems.append((line, "row", f"{len(header) + len(rec[None])} fields, the header has {len(header)}"))
            continue
        if any(rec[h] is None for h in header):
            filled = sum(rec[h] is not None for h in header)
            problems.append((line, "row", f"{filled} fields, the header has {len(header)}"))
            continue

        def get(k: str, rec: dict = rec) -> str:
            return trimmed(rec.get(k))

        if layout == "division":
            code, level, parent = get("code"), get("level"), get("parent_code") or None
            if not DIVISION_RE.match(code):
                problems.append((line, "code", "must be six digits (GB/T 2260)"))
            if level not in DIVISION_LEVELS:
                problems.append((line, "level", f"one of {', '.join(DIVISION_LEVELS)}"))
            elif level != UnitKind.PROVINCE.value and parent is None:
                problems.append((line, "parent_code", f"required for level {level}"))
            if parent is not None and not DIVISION_RE.match(parent):
                problems.append((line, "parent_code", "must be six digits (GB/T 2260)"))
            name = get("name")
            valid = DIVISION_RE.match(code) is not None
            rows.append(
                _Row(
                    line,
                    code,
                    f"{name}人民政府" if name else "",
                    level,
                    parent,
                    code if valid else None,
                    name or None,
                    kind_field="level",
                    code_checked=not valid,
                )
            )
        elif layout == "department":
            key = get("key")
            if key == "gov":
                if len(get("doc_number_root")) > 16:
                    problems.append((line, "doc_number_root", "at most 16 characters"))
                rows.append(
                    _Row(
                        line,
                        default_parent,
                        get("name"),
                        UnitKind.PROVINCE.value,
                        None,
                        doc_number_root=get("doc_number_root") or None,
                        only_root=True,
                        code_field="key",
                    )
                )
                continue
            if not key:
                problems.append((line, "key", "required"))
            rows.append(
                _Row(
                    line,
                    f"{default_parent}-{key}",
                    get("name"),
                    UnitKind.DEPARTMENT.value,
                    default_parent,
                    None,
                    get("short_name") or None,
                    get("doc_number_root") or None,
                    code_field="key",
                )
            )
        else:
            rows.append(
                _Row(
                    line,
                    get("code"),
                    get("name"),
                    get("kind"),
                    get("parent_code") or None,
                    get("division_code") or None,
                    get("short_name") or None,
                    get("doc_number_root") or None,
                )
            )
    return rows, problems


def _check_row(r: _Row, problems: list[tuple[int, str, str]]) -> None:
    """Rules of one row that need no database (duplicates across rows are checked later)."""
    if r.code_checked:
        pass
    elif not r.code:
        problems.append((r.line, r.code_field, "required"))
    elif not CODE_RE.match(r.code):
        problems.append((r.line, r.code_field, "letters, digits and _.:- only, at most 64"))
    if not r.name:
        problems.append((r.line, "name", "required"))
    elif len(r.name) > 100:
        problems.append((r.line, "name", "at most 100 characters"))
    if r.kind_field == "kind" and r.kind not in UNIT_KINDS:  # `level` was checked by the layout
        problems.append((r.line, r.kind_field, f"one of {', '.join(sorted(UNIT_KINDS))}"))
    if r.division_code is not None and not DIVISION_RE.match(r.division_code):
        problems.append((r.line, "division_code", "must be six digits (GB/T 2260)"))
    if r.short_name is not None and len(r.short_name) > 50:
        problems.append((r.line, "short_name", "at most 50 characters"))
    if r.doc_number_root is not None and len(r.doc_number_root) > 16:
        problems.append((r.line, "doc_number_root", "at most 16 characters"))
    if r.parent_code is not None and r.parent_code == r.code:
        problems.append((r.line, "parent_code", "a unit cannot be its own parent"))


async def _load(session: AsyncSession, column: Any, values: set[str]) -> list[OrgUnit]:
    found: list[OrgUnit] = []
    ordered = sorted(values)
    for i in range(0, len(ordered), 500):
        found += (await session.execute(select(OrgUnit).where(column.in_(ordered[i : i + 500])))).scalars()
    return found


def _creation_order(new: dict[str, _Row], problems: list[tuple[int, str, str]]) -> list[_Row]:
    """New rows with every parent before its children, whatever the file order."""
    ordered: list[_Row] = []
    done: set[str] = set()
    pending = list(new.values())
    while pending:
        rest = [r for r in pending if r.parent_code in new and r.parent_code not in done]
        ready = [r for r in pending if not (r.parent_code in new and r.parent_code not in done)]
        if not ready:
            for r in rest:
                problems.append((r.line, "parent_code", f"cycle: {r.code} is below itself"))
            break
        ordered += ready
        done.update(r.code for r in ready)
        pending = rest
    return ordered


async def import_units(
    uow: UnitOfWork,
    text: str,
    *,
    default_parent: str = "370000",
    actor: Actor | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import units from CSV ``text`` inside ``uow`` (a trusted caller: CLI, demo, admin).

    Every row is checked against the file and the database before anything is written.
    Raises :class:`DomainErrors` (field ``line N: column``, detail = the problem; sorted
    by line) when any row is invalid; the caller's unit of work then rolls back, so the
    import writes nothing.

    ``actor`` None is a trusted caller; otherwise every row must be inside the actor's
    subtree (a new unit's parent, a known unit itself; a root needs a system admin), else
    ``OUT_OF_SCOPE`` on that row, and every change writes an audit row.
    """
    session = uow.session
    rows, problems = _parse(text, default_parent)
    scope: list[tuple[int, str, str]] = []
    for r in rows:
        if not r.only_root:
            _check_row(r, problems)

    new_or_known: dict[str, _Row] = {}
    divisions: dict[str, _Row] = {}
    for r in rows:
        if r.only_root or not r.code:
            continue
        first = new_or_known.setdefault(r.code, r)
        if first is not r:
            problems.append((r.line, r.code_field, f"duplicate code {r.code} in file (line {first.line})"))
        if r.division_code:
            other = divisions.setdefault(r.division_code, r)
            if other is not r and other.code != r.code:
                problems.append(
                    (r.line, "division_code", f"duplicate division code {r.division_code} in file (line {other.line})")
                )

    codes = {r.code for r in rows if r.code} | {r.parent_code for r in rows if r.parent_code}
    existing = {u.code: u for u in await _load(session, OrgUnit.code, codes)}
    by_id = {u.id: u for u in existing.values()}
    missing_parents = {u.parent_id for u in existing.values() if u.parent_id and u.parent_id not in by_id}
    if missing_parents:
        for u in (await session.execute(select(OrgUnit).where(OrgUnit.id.in_(missing_parents)))).scalars():
            by_id[u.id] = u
    division_owner = {
        u.division_code: u.code for u in await _load(session, OrgUnit.division_code, set(divisions)) if u.division_code
    }

    new: dict[str, _Row] = {}
    for code, r in new_or_known.items():
        if r.parent_code == code:
            continue  # reported by _check_row
        unit = existing.get(code)
        if r.parent_code is not None and r.parent_code not in new_or_known and r.parent_code not in existing:
            problems.append((r.line, "parent_code", f"unknown parent {r.parent_code}"))
            continue
        owner = division_owner.get(r.division_code or "")
        if owner is not None and owner != code:
            problems.append((r.line, "division_code", f"{r.division_code} already belongs to unit {owner}"))
        if unit is None:
            new[code] = r
            parent = existing.get(r.parent_code or "")
            if parent is not None and not parent.is_active:
                problems.append((r.line, "parent_code", f"parent {r.parent_code} is deactivated"))
            continue
        current_parent = by_id.get(unit.parent_id) if unit.parent_id else None
        current_code = current_parent.code if current_parent else None
        if current_code != r.parent_code:
            problems.append(
                (r.line, "parent_code", f"is {current_code or 'none'} in the tree; move units with moveOrgUnit")
            )
        if r.division_code and unit.division_code != r.division_code:
            problems.append(
                (r.line, "division_code", f"is {unit.division_code or 'none'} in the tree; division codes never change")
            )
    order = _creation_order(new, problems)
    for r in rows:
        if r.only_root and r.code not in existing and r.code not in new_or_known:
            problems.append((r.line, r.code_field, f"unit {r.code} must be imported first"))
    if actor is not None:
        for r in rows:
            unit = existing.get(r.code)
            parent = existing.get(r.parent_code or "")
            if unit is not None:
                ok = actor.administers_path(unit.path)
            elif parent is not None:
                ok = actor.administers_path(parent.path)
            else:
                ok = r.parent_code is not None or actor.is_system_admin
            if not ok:
                scope.append((r.line, r.code_field, f"{r.code} is outside the subtree you administer"))
    if problems or scope:
        refuse(problems, scope)

    report = ImportReport()
    for code, r in new_or_known.items():
        if r.parent_code == code:
            continue  # reported by _check_row
        unit = existing.get(code)
        if unit is None:
            continue
        changed = False
        before = {**unit_state(unit), "docNumberRoot": unit.doc_number_root}
        for attr, value in (("name", r.name), ("short_name", r.short_name), ("doc_number_root", r.doc_number_root)):
            if value is not None and getattr(unit, attr) != value:
                setattr(unit, attr, value)
                changed = True
        if changed:
            unit.version += 1
            report.updated += 1
            _audit_update(session, actor, unit, before)
        else:
            report.unchanged += 1
        _tick(progress, report, len(rows))
    for r in order:
        parent = existing.get(r.parent_code) if r.parent_code else None
        try:
            unit = await create_unit(
                uow,
                actor,
                UnitInput(
                    r.code,
                    r.name,
                    r.kind,
                    parent.id if parent else None,
                    r.division_code,
                    r.short_name,
                    r.doc_number_root,
                ),
            )
        except DomainError as e:
            problems.append((r.line, e.field or "", e.message("en")))
        except DomainErrors as es:
            problems.extend((r.line, e.field or "", e.message("en")) for e in es.errors)
        else:
            existing[r.code] = unit
            report.created += 1
        _tick(progress, report, len(rows))
    for r in rows:
        if not r.only_root:
            continue
        unit = existing[r.code]
        if r.doc_number_root and unit.doc_number_root != r.doc_number_root:
            before = {**unit_state(unit), "docNumberRoot": unit.doc_number_root}
            unit.doc_number_root = r.doc_number_root
            unit.version += 1
            report.updated += 1
            _audit_update(session, actor, unit, before)
        else:
            report.unchanged += 1
        _tick(progress, report, len(rows))
    if problems:
        refuse(problems)
    await session.flush()
    return report


def _tick(progress: Progress | None, report: ImportReport, total: int) -> None:
    if progress is not None:
        progress(report.created + report.updated + report.unchanged, total)


def _audit_update(session: AsyncSession, actor: Actor | None, unit: OrgUnit, before: dict) -> None:
    if actor is not None:
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.ORG_UNIT_UPDATE,
            target_type="OrgUnit",
            target_id=unit.id,
            before=before,
            after={**unit_state(unit), "docNumberRoot": unit.doc_number_root},
        )


async def import_org(
    uow: UnitOfWork,
    text: str,
    *,
    default_parent: str = "370000",
    actor: Actor | None = None,
    progress: Progress | None = None,
) -> ImportReport | UsersReport:
    """Import units or users (the layout is recognised by the header) inside ``uow``.

    With an ``actor``, one ``org.import`` audit row sums up what the import did.
    """
    text = text.lstrip("\ufeff")
    if is_users_header(header_of(text)):
        report: ImportReport | UsersReport = await import_users(uow, text, actor=actor, progress=progress)
    else:
        report = await import_units(uow, text, default_parent=default_parent, actor=actor, progress=progress)
    if actor is not None:
        audit.record(
            uow.session,
            actor_id=actor.user_id,
            action=Action.ORG_IMPORT,
            target_type="Import",
            target_id=None,
            after={"layout": "users" if isinstance(report, UsersReport) else "units", **report.__dict__},
        )
        await uow.session.flush()
    return report
