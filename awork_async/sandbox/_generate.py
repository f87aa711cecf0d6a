"""Deterministic generation of a fake awork workspace from a seed (pure, no I/O)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

import attrs

from ._entries import Entry, new_entry, set_links, set_times_epoch
from ._timeutil import (
    UTC,
    epoch_iso_utc,
    epoch_ticks,
    iso_utc,
    local_wall_to_epoch,
    to_ticks,
)

__all__ = ["EntryFactory", "Workspace", "generate_workspace", "new_uuid"]

FIRST_NAMES = (
    "Carla", "Neil", "Anna", "Jonas", "Mia", "Lukas", "Sofia", "Ben", "Emma", "Paul", "Lena",
    "Finn", "Hannah", "Noah", "Lea", "Elias", "Marie", "Felix", "Laura", "Tim", "Sarah", "Jan",
    "Julia", "David", "Nina", "Chloé", "Zoë", "Björn",
)  # fmt: skip
LAST_NAMES = (
    "Creative", "Müller", "Schmidt", "O'Brien", "Schneider", "Fischer", "Weber", "Meyer",
    "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
)  # fmt: skip
COMPANIES = (
    "Acme GmbH", "Globex Corp", "Initech", "Umbrella & Co", "O'Reilly Media", "Stark Industries",
    "Wayne Enterprises", "Müller Bau AG", "Hooli", "Vandelay Imports", "Tyrell 100% Corp",
    "Cyberdyne Systems",
)  # fmt: skip
PROJECT_WORDS = (
    "Website", "Relaunch", "App", "Campaign", "Onboarding", "Migration", "Audit", "Rebrand",
    "Shop", "Intranet", "Newsletter", "Roadmap", "Analytics", "Support", "Workshop",
)  # fmt: skip
TASK_WORDS = (
    "Sitemap", "Wireframes", "Design review", "Copywriting", "Backend API", "QA round",
    "Kick-off call", "Sprint planning", "Bugfix", "Deployment", "Research", "Invoice check",
    "Content 'final' pass", "Budget & scope", "Translation",
)  # fmt: skip
TYPES_OF_WORK = (
    ("Design", "brush"), ("Development", "code"), ("Meeting", "groups"),
    ("Consulting", "support_agent"), ("Project management", "assignment"),
    ("Testing", "bug_report"), ("Documentation", "description"), ("Sales", "attach_money"),
    ("Travel", "flight"), ("Legacy work", "history"),
)  # fmt: skip
ICONS = (
    "brush", "code", "groups", "support_agent", "assignment", "bug_report", "description",
    "attach_money", "flight", "history", "thumb_up", "school", "build", "call", "mail",
    "shopping_cart", "edit", "event", "lightbulb", "language",
)  # fmt: skip
PROJECT_STATUSES = (
    ("Not started", "not-started"), ("In progress", "progress"), ("Stuck", "stuck"),
    ("Done", "closed"),
)  # fmt: skip
PROJECT_TYPES = (("Client project", "work"), ("Internal", "house"), ("Retainer", "autorenew"))
TASK_STATUSES = (
    ("To do", "todo", "radio_button_unchecked"), ("In progress", "progress", "arrow_forward"),
    ("Review", "review", "rate_review"), ("Done", "done", "check"),
)  # fmt: skip
TIMEZONES = (
    "Europe/Berlin", "Europe/Berlin", "Europe/Berlin", "Europe/Berlin", "Europe/London",
    "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney", "Asia/Kolkata",
)  # fmt: skip
NOTES = (
    None, None, None, "", "Sitemap draft", "Call with the client", "Review of 'Q3' plan",
    "R&D: 50% done", "Müller-Lüdenscheidt workshop", "Bugfix #42 ✓", "Notes ?a=1&b=2",
    "Travel to Berlin", "Design feedback round", "O'Brien's proposal", "Line one\nline two",
)  # fmt: skip

_EPOCH_DATE = date(1970, 1, 1)

#: Days between the last day of generated entries and "now". An entry of day D ends before
#: D+1 12:00 UTC in every zone of :data:`TIMEZONES` (local 07:00-18:00 plus up to 4 h of work
#: and breaks), is created up to an hour later and updated up to a day after that: ending the
#: data three days back keeps every ``createdOn``/``updatedOn`` in the past.
ANCHOR_LAG_DAYS = 3


def default_anchor(now: datetime) -> date:
    """The last day of generated entries for a sandbox started at ``now`` (aware).

    Near today, so that date filters such as "the last 30 days" find data, yet far enough back
    that no generated timestamp lies in the future. Deterministic for a given ``now``.
    """
    return now.astimezone(UTC).date() - timedelta(days=ANCHOR_LAG_DAYS)


def new_uuid(rng: random.Random) -> str:
    """A random version-4 uuid drawn from ``rng`` (so ids are reproducible)."""
    text = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"


@attrs.define
class Workspace:
    """Every generated collection. Entities are JSON-ready dicts; nested ones are shared."""

    workspace: dict[str, Any]
    me_id: str
    users: dict[str, dict[str, Any]]
    #: ``UserModelForTimeTrackings`` per user id (shared by entries).
    nested_users: dict[str, dict[str, Any]]
    companies: dict[str, dict[str, Any]]
    project_statuses: list[dict[str, Any]]
    project_types: list[dict[str, Any]]
    task_statuses: list[dict[str, Any]]
    #: ``ProjectModelForTimeTrackings`` per project id.
    projects: dict[str, dict[str, Any]]
    #: ``TaskModelForTimeTrackings`` per task id.
    tasks: dict[str, dict[str, Any]]
    #: Full ``TypeOfWork`` per id, and the ``NestedTypeModel`` entries point at.
    types_of_work: dict[str, dict[str, Any]]
    nested_types: dict[str, dict[str, Any]]
    #: Type-of-work ids available on each project.
    project_types_of_work: dict[str, list[str]]
    simple_projects: dict[str, dict[str, Any]]
    simple_tasks: dict[str, dict[str, Any]]
    time_bookings: dict[str, dict[str, Any]]
    time_reports: list[dict[str, Any]]
    settings: list[dict[str, Any]]
    icons: list[str]
    entries: dict[str, Entry]


def _stamp_dict(obj: dict[str, Any], moment: datetime, by: str) -> None:
    obj["createdOn"] = iso_utc(moment)
    obj["createdBy"] = by
    obj["updatedOn"] = iso_utc(moment)
    obj["updatedBy"] = by


class EntryFactory:
    """Makes consistent random entries (used for the initial data and for churn inserts)."""

    def __init__(self, ws: Workspace, rng: random.Random) -> None:
        self.ws = ws
        self.rng = rng
        self._users = [ws.nested_users[u] for u in ws.users]
        self._tasks = list(ws.tasks.values())
        self._projects = list(ws.projects.values())
        self._types = [t for t in ws.nested_types.values() if not t["isArchived"]]
        self._archived = [t for t in ws.nested_types.values() if t["isArchived"]]

    def make(self, day: date, entry_id: str | None = None) -> Entry:
        """A finished entry starting on ``day`` (local working hours of a random zone)."""
        rnd = self.rng.random
        tz_name = TIMEZONES[int(rnd() * len(TIMEZONES))]
        billable = rnd() < 0.7
        entry = new_entry(
            entry_id or new_uuid(self.rng),
            timezone=tz_name,
            is_billable=billable,
            is_billed=billable and rnd() < 0.3,
            note=NOTES[int(rnd() * len(NOTES))],
        )
        roll = rnd()
        task = project = None
        if roll < 0.8:
            task = self._tasks[int(rnd() * len(self._tasks))]
            project = task["project"]
        elif roll < 0.93:
            project = self._projects[int(rnd() * len(self._projects))]
        types = self._archived if (self._archived and rnd() < 0.02) else self._types
        user = self._users[int(rnd() * len(self._users))]
        tow = types[int(rnd() * len(types))]
        set_links(entry, user=user, type_of_work=tow, project=project, task=task)
        day_number = (day - _EPOCH_DATE).days
        wall = day_number * 86_400 + 7 * 3600 + int(rnd() * 11 * 3600)
        start = local_wall_to_epoch(wall, tz_name)
        duration = (1 + int(rnd() * 16)) * 900
        if rnd() < 0.3:
            duration += 1 + int(rnd() * 899)
        breaks: list[dict[str, Any]] = []
        break_total = 0
        if duration >= 1800 and rnd() < 0.12:
            remaining = duration
            cursor = start
            for _ in range(1 + int(rnd() * 2)):
                worked = int(remaining * (0.2 + rnd() * 0.4))
                remaining -= worked
                cursor += worked
                length = (5 + int(rnd() * 40)) * 60
                breaks.append(
                    {
                        "startDate": epoch_iso_utc(cursor),
                        "duration": length,
                        "endDate": epoch_iso_utc(cursor + length),
                    }
                )
                break_total += length
                cursor += length
        end = start + duration + break_total
        set_times_epoch(entry, start, end, duration, tz_name)
        entry["breaks"] = breaks
        entry["breakDuration"] = break_total if breaks else None
        created = end + int(rnd() * 3600)
        updated = created
        if rnd() < 0.3:
            updated += 1 + int(rnd() * 86_400)
        entry["createdBy"] = entry["userId"] if rnd() < 0.9 else self.ws.me_id
        entry["createdOn"] = epoch_iso_utc(created)
        entry["updatedBy"] = entry["createdBy"]
        entry["updatedOn"] = epoch_iso_utc(updated)
        entry["resourceVersion"] = epoch_ticks(updated)
        return entry


def _users(rng: random.Random, count: int, created: datetime) -> list[dict[str, Any]]:
    users = []
    for i in range(count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 7 + 3) % len(LAST_NAMES)]
        user: dict[str, Any] = {
            "id": new_uuid(rng),
            "firstName": first,
            "lastName": last,
            "hasImage": rng.random() < 0.5,
            "isExternal": i == count - 1,
            "isArchived": False,
            "isDeactivated": False,
            "language": "en-GB" if i % 3 else "de-DE",
            "position": rng.choice(("Designer", "Developer", "Project manager", "Consultant")),
        }
        _stamp_dict(user, created, "00000000-0000-0000-0000-000000000000")
        users.append(user)
    return users


def generate_workspace(
    *,
    seed: int,
    entries: int,
    users: int,
    projects: int,
    tasks: int,
    types_of_work: int,
    time_bookings: int,
    anchor: date,
    days: int,
) -> tuple[Workspace, EntryFactory]:
    """Generate a workspace; the same arguments always give the same data."""
    rng = random.Random(seed)
    created = datetime.combine(anchor - timedelta(days=days + 30), time(8), tzinfo=UTC)
    user_list = _users(rng, users, created)
    me_id = user_list[0]["id"]
    nested_users = {
        u["id"]: {k: u[k] for k in ("id", "firstName", "lastName", "hasImage", "isExternal")}
        for u in user_list
    }
    companies: dict[str, dict[str, Any]] = {}
    for name in COMPANIES[: max(3, projects // 4)]:
        cid = new_uuid(rng)
        companies[cid] = {
            "id": cid,
            "name": name,
            "hasImage": rng.random() < 0.5,
            "description": f"Customer {name}",
        }
    statuses = [
        {"id": new_uuid(rng), "name": n, "description": None, "type": t, "isArchived": False}
        for n, t in PROJECT_STATUSES
    ]
    ptypes = [
        {"id": new_uuid(rng), "name": n, "icon": i, "isArchived": False} for n, i in PROJECT_TYPES
    ]
    tstatuses = [
        {
            "id": new_uuid(rng),
            "name": n,
            "description": None,
            "type": t,
            "order": float(k),
            "icon": i,
        }
        for k, (n, t, i) in enumerate(TASK_STATUSES, start=1)
    ]
    types: dict[str, dict[str, Any]] = {}
    nested_types: dict[str, dict[str, Any]] = {}
    for k in range(types_of_work):
        name, icon = TYPES_OF_WORK[k % len(TYPES_OF_WORK)]
        if k >= len(TYPES_OF_WORK):
            name = f"{name} {k // len(TYPES_OF_WORK) + 1}"
        tid = new_uuid(rng)
        archived = k == types_of_work - 1
        full: dict[str, Any] = {
            "id": tid,
            "name": name,
            "description": f"Time spent on {name.lower()}",
            "icon": icon,
            "isArchived": archived,
        }
        _stamp_dict(full, created, me_id)
        types[tid] = full
        nested_types[tid] = {"id": tid, "name": name, "icon": icon, "isArchived": archived}
    type_ids = list(types)
    company_list = list(companies.values())
    project_map: dict[str, dict[str, Any]] = {}
    project_tows: dict[str, list[str]] = {}
    simple_projects: dict[str, dict[str, Any]] = {}
    for k in range(projects):
        pid = new_uuid(rng)
        company = rng.choice(company_list)
        name = f"{company['name'].split()[0]} {PROJECT_WORDS[k % len(PROJECT_WORDS)]} {k + 1}"
        project_map[pid] = {
            "id": pid,
            "name": name,
            "projectStatus": rng.choice(statuses),
            "company": company,
            "projectType": rng.choice(ptypes),
            "projectKey": f"P{k + 1:03d}",
            "isPrivate": rng.random() < 0.1,
            "hasImage": rng.random() < 0.3,
            "isExternal": False,
            "isBillableByDefault": rng.random() < 0.7,
            "createdBy": me_id,
        }
        project_tows[pid] = sorted(rng.sample(type_ids[:-1], k=min(4, len(type_ids) - 1)))
        simple_projects[pid] = {
            "id": pid,
            "name": name,
            "hasImage": project_map[pid]["hasImage"],
            "company": {"id": company["id"], "hasImage": company["hasImage"]},
        }
    project_list = list(project_map.values())
    task_map: dict[str, dict[str, Any]] = {}
    simple_tasks: dict[str, dict[str, Any]] = {}
    counters: dict[str, int] = {}
    for k in range(tasks):
        tid = new_uuid(rng)
        project = rng.choice(project_list) if rng.random() < 0.9 else None
        parents = [
            t for t in list(task_map.values())[-5:] if project and t["projectId"] == project["id"]
        ]
        parent = rng.choice(parents) if parents and rng.random() < 0.3 else None
        status = rng.choice(tstatuses)
        key = project["projectKey"] if project else "PRV"
        counters[key] = counters.get(key, 0) + 1
        name = f"{TASK_WORDS[k % len(TASK_WORDS)]} {k + 1}"
        task_map[tid] = {
            "id": tid,
            "name": name,
            "baseType": "projecttask" if project else "private",
            "taskIdentifier": f"{key}-{counters[key]}",
            "taskStatusId": status["id"],
            "typeOfWorkId": rng.choice(type_ids[:-1]),
            "project": project,
            "projectId": project["id"] if project else None,
            "plannedDuration": rng.choice((None, 3600, 7200, 21600, 28800)),
            "closedOn": None,
            "taskStatus": status,
            "createdBy": me_id,
            "correlationId": new_uuid(rng),
            "parentId": parent["id"] if parent else None,
            "parentTask": {"id": parent["id"], "name": parent["name"]} if parent else None,
        }
        simple_tasks[tid] = {
            "id": tid,
            "name": name,
            "baseType": task_map[tid]["baseType"],
            "createdBy": me_id,
            "entityId": project["id"] if project else me_id,
            "projectId": project["id"] if project else None,
            "correlationId": task_map[tid]["correlationId"],
            "parentId": task_map[tid]["parentId"],
            "taskStatusId": status["id"],
            "taskStatus": status,
            "primaryTaskListId": None,
            "primaryTaskList": None,
        }
    bookings: dict[str, dict[str, Any]] = {}
    first_day = anchor - timedelta(days=days - 1)
    for k in range(time_bookings):
        bid = new_uuid(rng)
        start_day = first_day + timedelta(days=rng.randrange(days + 60))
        booking: dict[str, Any] = {
            "id": bid,
            "createdOn": "",
            "createdBy": me_id,
            "updatedOn": "",
            "updatedBy": me_id,
            "userId": rng.choice(user_list)["id"],
            "projectId": rng.choice(project_list)["id"] if rng.random() < 0.8 else None,
            "startDate": start_day.isoformat(),
            "endDate": (start_day + timedelta(days=rng.randint(0, 10))).isoformat(),
            "duration": rng.randint(1, 16) * 1800,
            "description": rng.choice(
                (None, "Blocker for a new project", "Vacation cover", "Workshop")
            ),
            "laneOrder": k % 3,
            "isAnonymized": False,
        }
        _stamp_dict(booking, created + timedelta(hours=k), me_id)
        bookings[bid] = booking
    me_nested = {k: nested_users[me_id][k] for k in ("id", "firstName", "lastName", "hasImage")}
    reports = []
    for k, (name, flt, mode) in enumerate(
        (
            ("My hours", f"userId eq guid'{me_id}'", "currentMonth"),
            ("Project report", f"projectId eq guid'{project_list[0]['id']}'", "lastMonth"),
            ("Billable, not billed", "isBillable eq true and isBilled eq false", "currentYear"),
            ("Whole year", None, "customRange"),
        )
    ):
        reports.append(
            {
                "shared": k % 2 == 0,
                "dateMode": mode,
                "startOn": iso_utc(created) if mode == "customRange" else None,
                "endOn": iso_utc(created + timedelta(days=days)) if mode == "customRange" else None,
                "filter": flt,
                "chartType": "group",
                "projectId": None,
                "companyId": None,
                "sumBy": "UserId",
                "sortBy": "CreatedOn",
                "sortByOrder": "asc",
                "roundBy": None,
                "groupBy": "project",
                "sortColumn": None,
                "sortGroupsEnabled": True,
                "availableColumns": ["duration", "user", "project", "date"],
                "billingStatuses": ["billed", "notBilled", "notBillable"],
                "note": None,
                "name": name,
                "id": new_uuid(rng),
                "user": me_nested,
                "updatedOn": iso_utc(created),
                "resourceVersion": to_ticks(created),
            }
        )
    ws = Workspace(
        workspace={
            "id": new_uuid(rng),
            "name": "awork sandbox",
            "url": "https://sandbox.awork.com",
        },
        me_id=me_id,
        users={u["id"]: u for u in user_list},
        nested_users=nested_users,
        companies=companies,
        project_statuses=statuses,
        project_types=ptypes,
        task_statuses=tstatuses,
        projects=project_map,
        tasks=task_map,
        types_of_work=types,
        nested_types=nested_types,
        project_types_of_work=project_tows,
        simple_projects=simple_projects,
        simple_tasks=simple_tasks,
        time_bookings=bookings,
        time_reports=reports,
        settings=[
            {"type": "prevent-on-done-projects", "enabled": False, "dayCount": None},
            {"type": "allow-on-past-days", "enabled": False, "dayCount": 30},
        ],
        icons=list(ICONS),
        entries={},
    )
    factory = EntryFactory(ws, rng)
    for _ in range(entries):
        entry = factory.make(first_day + timedelta(days=rng.randrange(days)))
        ws.entries[entry["id"]] = entry
    return ws, factory
