"""Which screens a route shows, bottom first (back pops the top one)."""

from collections.abc import Callable

from mobile.ui.history import HistoryScreen, RecordScreen
from mobile.ui.home import HomeScreen
from mobile.ui.login import LoginScreen
from mobile.ui.shell import FieldApp, Screen
from mobile.ui.subject import ChildScreen, SchoolScreen
from mobile.ui.visit import VisitScreen

Stack = list[tuple[str, Callable[[], Screen]]]


def stack_for(app: FieldApp, route: str) -> Stack:
    """Nobody signed in: only 登录. Signed in: 登录 only to sign in again (token refused)."""
    path = (route or "/").split("?", 1)[0].rstrip("/") or "/"
    if app.state.user is None:
        return [("/login", lambda: LoginScreen(app))]
    home: Stack = [("/", lambda: HomeScreen(app))]
    if path == "/login":
        return [("/login", lambda: LoginScreen(app))] if app.state.needs_sign_in else home
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[1]:
        kind, key = parts
        if kind == "child":
            return [*home, (path, lambda: ChildScreen(app, key))]
        if kind == "school":
            return [*home, (path, lambda: SchoolScreen(app, key))]
        if kind == "visit":
            return [*home, (path, lambda: VisitScreen(app, key))]
        if kind == "record":
            return [
                *home,
                ("/history", lambda: HistoryScreen(app)),
                (path, lambda: RecordScreen(app, key)),
            ]
    if path == "/history":
        return [*home, ("/history", lambda: HistoryScreen(app))]
    return home
