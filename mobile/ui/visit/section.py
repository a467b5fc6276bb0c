"""What the visit form's sections share: the editor, the app, and the form-wide state.

A section builds its controls once and changes them in place (a field being typed into is
never replaced). ``derive`` re-reads the form (never the text being typed); ``show_error``
takes the check's message for a field it owns; ``changed`` re-derives every section.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import flet as ft

from mobile.core.editor import VisitEditor
from mobile.ui import widgets as w
from mobile.ui.shell import FieldApp


@dataclass
class FormContext:
    """One open visit form: what every section reads and writes."""

    app: FieldApp
    editor: VisitEditor
    changed: Callable[[], Awaitable[None]]  # derive every section, then flush
    derive_all: Callable[[], None]
    bad_inputs: set[str] = field(default_factory=set)  # time fields whose text is no time


class Section:
    """One framed part of the form."""

    def __init__(self, ctx: FormContext) -> None:
        self.ctx = ctx

    @property
    def app(self) -> FieldApp:
        return self.ctx.app

    @property
    def editor(self) -> VisitEditor:
        return self.ctx.editor

    def frame(self) -> ft.Control:
        raise NotImplementedError

    def derive(self) -> None:
        pass

    def clear_errors(self) -> None:
        pass

    def show_error(self, name: str, message: str) -> bool:
        """Show the check's ``message`` for field ``name`` if this section owns it."""
        return False


def frame(title: str | ft.Control, *controls: ft.Control) -> ft.Control:
    """A section's border and heading."""
    head = title if isinstance(title, ft.Control) else w.heading(title)
    return ft.Container(
        content=ft.Column([head, *controls], spacing=8),
        padding=12,
        border=ft.Border.all(1, ft.Colors.BLUE_GREY_100),
        border_radius=10,
    )


def value_of(e: ft.Event[ft.TextField]) -> str:
    if isinstance(e.data, str):
        return e.data
    return e.control.value or ""


def selected(e: ft.Event[ft.Chip] | ft.Event[ft.Switch], attr: str = "selected") -> bool:
    if isinstance(e.data, bool):
        return e.data
    if isinstance(e.data, str) and e.data.lower() in ("true", "false"):
        return e.data.lower() == "true"
    return bool(getattr(e.control, attr, False))
