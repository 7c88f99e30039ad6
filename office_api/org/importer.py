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
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select

from office_api.db import UnitOfWork
from office_api.errors import DomainError, DomainErrors, ErrorCode
from office_api.org.models import UNIT_KINDS, OrgUnit, UnitKind
from office_api.org.service import CODE_RE, DIVISION_RE, UnitInput, create_unit

DIVISION_HEADER = ["code", "name", "level", "parent_code"]
DEPARTMENT_HEADER = ["key", "name", "short_name", "doc_number_root"]
GENERIC_REQUIRED = ["code", "name", "kind", "parent_code"]


@dataclass
class ImportReport:
    """What an import did: counts and, if it failed, ``(line, field, problem)`` rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)


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


def _parse(text: str, default_parent: str) -> tuple[list[_Row], list[tuple[int, str, str]]]:
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows: list[_Row] = []
    problems: list[tuple[int, str, str]] = []
    if header == DIVISION_HEADER:
        layout = "division"
    elif header == DEPARTMENT_HEADER:
        layout = "department"
    elif all(h in header for h in GENERIC_REQUIRED):
        layout = "generic"
    else:
        return [], [
            (
                1,
                "header",
                "unknown layout: expected "
                + " | ".join(",".join(h) for h in (DIVISION_HEADER, DEPARTMENT_HEADER, GENERIC_REQUIRED)),
            )
        ]
    for rec in reader:
        line = reader.line_num

        def get(k: str, rec: dict = rec) -> str:
            return (rec.get(k) or "").strip()

        if layout == "division":
            code, level = get("code"), get("level")
            if not DIVISION_RE.match(code):
                problems.append((line, "code", "must be six digits (GB/T 2260)"))
                continue
            if level not in ("province", "prefecture", "county", "township"):
                problems.append((line, "level", "must be province, prefecture, county or township"))
                continue
            name = get("name")
            rows.append(
                _Row(
                    line, code, f"{name}人民政府" if name else "", level, get("parent_code") or None, code, name or None
                )
            )
        elif layout == "department":
            key = get("key")
            if key == "gov":
                rows.append(
                    _Row(
                        line,
                        default_parent,
                        get("name"),
                        "province",
                        None,
                        doc_number_root=get("doc_number_root") or None,
                        only_root=True,
                    )
                )
                continue
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


async def import_units(uow: UnitOfWork, text: str, *, default_parent: str = "370000") -> ImportReport:
    """Import units from CSV ``text`` inside ``uow`` (a trusted caller: CLI, demo, admin).

    Raises :class:`DomainErrors` (field ``line N: column``) and writes nothing when any row
    is invalid.
    """
    session = uow.session
    rows, problems = _parse(text, default_parent)
    report = ImportReport()
    seen: set[str] = set()
    for r in rows:
        if not r.only_root:
            if r.code in seen:
                problems.append((r.line, "code", f"duplicate code {r.code} in file"))
            seen.add(r.code)
        if not CODE_RE.match(r.code):
            problems.append((r.line, "code", "letters, digits and _.:- only, at most 64"))
        if not r.name:
            problems.append((r.line, "name", "required"))
        elif len(r.name) > 100:
            problems.append((r.line, "name", "at most 100 characters"))
        if r.kind not in UNIT_KINDS:
            problems.append((r.line, "kind", f"one of {', '.join(sorted(UNIT_KINDS))}"))
    codes = {r.code for r in rows} | {r.parent_code for r in rows if r.parent_code}
    existing = {u.code: u for u in (await session.execute(select(OrgUnit).where(OrgUnit.code.in_(codes)))).scalars()}
    pending = [r for r in rows if not r.only_root]
    # Create parents before children, whatever the file order.
    progress = True
    while pending and progress and not problems:
        progress = False
        rest = []
        for r in pending:
            unit = existing.get(r.code)
            if unit is not None:
                parent = existing.get(r.parent_code) if r.parent_code else None
                if (parent.id if parent else None) != unit.parent_id:
                    problems.append((r.line, "parent_code", "differs from the tree; use moveOrgUnit"))
                    progress = True
                    continue
                changed = False
                for attr, value in (
                    ("name", r.name),
                    ("short_name", r.short_name),
                    ("doc_number_root", r.doc_number_root),
                ):
                    if value is not None and getattr(unit, attr) != value:
                        setattr(unit, attr, value)
                        changed = True
                if changed:
                    unit.version += 1
                    report.updated += 1
                else:
                    report.unchanged += 1
                progress = True
                continue
            if r.parent_code and r.parent_code not in existing:
                rest.append(r)
                continue
            parent = existing.get(r.parent_code) if r.parent_code else None
            try:
                unit = await create_unit(
                    uow,
                    None,
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
            progress = True
        pending = rest
    for r in pending:
        if not problems or r.line not in {p[0] for p in problems}:
            problems.append((r.line, "parent_code", f"unknown parent {r.parent_code}"))
    for r in rows:
        if r.only_root:
            unit = existing.get(r.code)
            if unit is None:
                problems.append((r.line, "key", f"unit {r.code} must be imported first"))
            elif r.doc_number_root and unit.doc_number_root != r.doc_number_root:
                unit.doc_number_root = r.doc_number_root
                unit.version += 1
                report.updated += 1
            else:
                report.unchanged += 1
    if problems:
        problems.sort()
        raise DomainErrors(
            [DomainError(ErrorCode.INVALID_VALUE, f"line {line}: {col}", detail=msg) for line, col, msg in problems]
        )
    await session.flush()
    return report
