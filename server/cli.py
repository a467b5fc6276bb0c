"""The server's commands of ``songjiao`` (contract.md, Commands): serve, demo, roster, user,
compliance.

``songjiao`` itself (songjiao/cli.py) adds these and the field app's own (mobile/cli.py); the
server knows no phone code. ``python -m server.cli`` runs the server's commands alone.
"""

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlmodel import Session

from server.db import get_engine, migrate
from server.services.errors import DomainError
from shared.messages import t
from shared.protocol import ComplianceReport

Handler = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.settings import get_settings

    settings = get_settings()
    if args.workers > 1:
        # Each process would count failed logins on its own: N processes, N times the limit.
        if settings.rate_limit_storage.startswith("memory://"):
            print(t("cli.workers_need_shared_limits", workers=args.workers), file=sys.stderr)
            return 2
        # SQLite has one writer for the whole file: more processes only queue on its lock.
        if settings.database_url.startswith("sqlite"):
            print(t("cli.workers_need_postgresql", workers=args.workers), file=sys.stderr)
            return 2
    migrate()  # once, before any worker starts
    print(t("cli.serving", host=args.host, port=args.port))
    uvicorn.run(
        "server.main:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        log_level="warning",
        access_log=False,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from server.demo.load import load
    from server.settings import get_settings
    from shared.terms import local_date

    settings = get_settings()
    today = args.today or settings.demo_today or local_date(datetime.now(UTC))
    migrate()
    with Session(get_engine()) as session:
        summary = load(
            session,
            today=today,
            calendar=settings.calendar(),
            console_url=f"http://{args.host}:{args.port}/login",
        )
    print(summary)
    return 0


def _roster_import(args: argparse.Namespace) -> int:
    from server.services import roster

    migrate()
    failed = False
    with Session(get_engine()) as session:
        # Dependency order (districts first ... assignments last), whatever the order given.
        for path in roster.in_dependency_order(args.files):
            report = roster.import_file(session, path)
            print(report.describe(path))
            failed = failed or report.failed
    return 1 if failed else 0


def _user_add(args: argparse.Namespace) -> int:
    from server.services import users

    migrate()
    if sys.stdin.isatty():
        password = getpass.getpass(t("cli.user.password_prompt"))
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print(t("cli.user.password_empty"), file=sys.stderr)
        return 2
    with Session(get_engine()) as session:
        try:
            users.add_user(
                session,
                username=args.username,
                role=args.role,
                district_code=args.district,
                password=password,
                name=args.name or "",
                base_school_id=args.base_school,
            )
            session.commit()
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    print(t("cli.user.created", username=args.username, role=args.role))
    return 0


def _compliance(args: argparse.Namespace) -> int:
    from server.scope import Scope
    from server.services import compliance
    from shared.domain import Role

    migrate()
    admin = Scope(username="cli", role=Role.ADMIN, district_code=None)
    with Session(get_engine()) as session:
        try:
            if args.district:
                report = compliance.district_report(
                    session, scope=admin, district_code=args.district, term_id=args.term
                )
                out: BaseModel = report
                reports = [report]
            else:
                every = compliance.all_reports(session, scope=admin, term_id=args.term)
                out, reports = every, every.districts
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(out.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(render_report(reports, args.term))
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("demo.bad_today")) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.positive"))
    return value


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The server's sub-commands, each with its ``handler``."""
    serve = sub.add_parser("serve", help=t("cli.serve.help"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help=t("cli.serve.workers"),
    )
    serve.set_defaults(handler=_serve)
    demo = sub.add_parser("demo", help=t("cli.demo.help"))
    # Where `songjiao serve` will listen, so that the console address printed is the real one.
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument(
        "--today",
        type=_day,
        help=t("cli.demo.today"),
    )
    demo.set_defaults(handler=_demo)
    roster = sub.add_parser("roster", help=t("console.nav.roster"))
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    imp = roster_sub.add_parser("import", help=t("cli.roster.import"))
    imp.add_argument("files", nargs="+")
    imp.set_defaults(handler=_roster_import)
    user = sub.add_parser("user", help=t("cli.user.help"))
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help=t("cli.user.add"))
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["teacher", "itinerant", "coordinator", "admin"]
    )
    add.add_argument("--district", required=True)
    add.add_argument("--name")
    add.add_argument("--base-school", dest="base_school")
    add.set_defaults(handler=_user_add)
    comp = sub.add_parser("compliance", help=t("cli.compliance.help"))
    comp.add_argument("--term", required=True)
    comp.add_argument("--district")
    comp.add_argument("--json", action="store_true")
    comp.set_defaults(handler=_compliance)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server.cli", description=t("cli.description"))
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def render_report(reports: list[ComplianceReport], term_id: str) -> str:
    """The report as a table for the terminal."""
    lines = [
        t("cli.report.title", term=term_id),
        t("cli.report.columns"),
    ]
    for r in reports:
        hd, it, sv, vi = r.home_delivery, r.itinerant, r.service, r.visits
        mark = t("console.dashboard.over_cap") if hd.over_cap else "  "
        lines.append(
            f"{r.district_code}  {r.district_name:<6}  {hd.count:>5}/{hd.total:<6} "
            f"{hd.ratio:.2%} {mark} {hd.cap:.0%}  {hd.headroom:>5}  "
            f"{it.schools_covered:>4}/{it.schools_in_scope:<4} {it.coverage:.0%}  "
            f"{sv.students_meeting_standard:>5}/{sv.students:<5}  "
            f"{vi.total:>6}({vi.flagged})  {r.subsidy.claimed_fen / 100:,.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
