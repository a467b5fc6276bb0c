"""Shared look: the bundled CJK font (mobile.ui.fonts), large touch targets, and small builders.

Every interactive control gets an accessible name (its text, a field label, or for an icon
alone a tooltip): screen readers and the browser tests find controls by it. A button whose text
is too short to tell which it is ("开始送教" on every child's card) says more to a screen reader
through ``name`` (the text's semantics label), not through a tooltip that would pop up over
the content repeating the label.
"""

from collections.abc import Awaitable, Callable
from typing import Any, overload

import flet as ft

from mobile.ui import fonts
from shared.messages import t

TOUCH = 52  # button height, px: comfortably above the 48 px minimum target
TEXT = 17
TITLE = 20

OK = ft.Colors.GREEN_800
WARN = ft.Colors.ORANGE_900
ERROR = ft.Colors.RED_800
MUTED = ft.Colors.BLUE_GREY_700

# Handler types. Flet calls a handler with no argument when it declares none (flet 1.0's
# ``ControlEventHandler``): buttons, cards and chips acting on a tap need nothing from the event,
# so they take none, and the event's control type (which differs between a filled and an
# outlined button) never has to be named. Fields and selectable chips read their event.
Action = Callable[[], Awaitable[None]] | Callable[[], None]
OnChange = Callable[[ft.Event[ft.TextField]], Awaitable[None]]
OnSelect = Callable[[ft.Event[ft.Chip]], Awaitable[None]]


def apply_theme(page: ft.Page) -> None:
    page.title = t("ui.app_title")
    page.fonts = {fonts.FAMILY: fonts.asset()}
    page.theme_mode = ft.ThemeMode.LIGHT
    page.theme = ft.Theme(
        font_family=fonts.FAMILY,
        color_scheme_seed=ft.Colors.TEAL,
        visual_density=ft.VisualDensity.COMFORTABLE,
    )


def text(value: str, *, size: int = TEXT, color: Any = None, weight: Any = None) -> ft.Text:
    return ft.Text(value, size=size, color=color, weight=weight, selectable=False)


def heading(value: str) -> ft.Text:
    return ft.Text(value, size=TITLE - 1, weight=ft.FontWeight.BOLD)


def note(value: str, color: Any = MUTED, *, visible: bool = True) -> ft.Text:
    return ft.Text(value, size=TEXT - 2, color=color, visible=visible)


@overload
def button(
    label: str,
    on_click: Action | None,
    *,
    icon: Any = ...,
    filled: bool = ...,
    name: str | None = ...,
    disabled: bool = ...,
    expand: bool = ...,
    url: str | None = ...,
    color: Any = ...,
    ident: None = None,
) -> ft.Button | ft.OutlinedButton: ...


@overload
def button(
    label: str,
    on_click: Action | None,
    *,
    icon: Any = ...,
    filled: bool = ...,
    name: str | None = ...,
    disabled: bool = ...,
    expand: bool = ...,
    url: str | None = ...,
    color: Any = ...,
    ident: str,
) -> ft.Semantics: ...


def button(
    label: str,
    on_click: Action | None,
    *,
    icon: Any = None,
    filled: bool = True,
    name: str | None = None,
    disabled: bool = False,
    expand: bool = False,
    url: str | None = None,
    color: Any = None,
    ident: str | None = None,
) -> ft.Button | ft.OutlinedButton | ft.Semantics:
    """A large button; its accessible name is ``name`` or its label. ``color`` tints the
    label (a tinted background would make Flet resend the button's style on every update).
    With ``ident`` it comes wrapped in ``ft.Semantics`` (which ``disabled`` and ``visible`` on
    the wrapper reach through)."""
    kind = ft.FilledButton if filled and not color else ft.OutlinedButton
    control: ft.Button | ft.OutlinedButton = kind(
        content=ft.Text(label, size=TEXT, color=color, semantics_label=name),
        icon=icon,
        on_click=on_click,
        disabled=disabled,
        height=TOUCH,
        expand=True if expand else None,  # False would still reach the client as a flex
        url=url,
    )
    if ident is None:
        return control
    # A stable selector for the browser tests: [flt-semantics-identifier="..."].
    return ft.Semantics(content=control, identifier=ident, expand=True if expand else None)


def text_button(label: str, on_click: Action | None, *, tooltip: str | None = None) -> ft.Control:
    return ft.TextButton(
        content=ft.Text(label, size=TEXT), on_click=on_click, tooltip=tooltip, height=TOUCH
    )


def icon_tip(message: str) -> ft.Tooltip:
    """An icon's name: read by screen readers at once, shown on a long press (touch) or after
    the pointer rests on it a while, below it, so that moving across the app bar with a mouse
    does not cover the screen with labels."""
    return ft.Tooltip(
        message=message, wait_duration=ft.Duration(milliseconds=900), prefer_below=True
    )


def icon_button(icon: Any, tooltip: str, on_click: Action | None, **kw: Any) -> ft.IconButton:
    return ft.IconButton(
        icon=icon, tooltip=icon_tip(tooltip), on_click=on_click, icon_size=28, **kw
    )


def field(
    label: str,
    value: str,
    on_change: OnChange | None,
    *,
    multiline: bool = False,
    hint: str | None = None,
    password: bool = False,
    error: str | None = None,
    keyboard: Any = None,
) -> ft.TextField:
    return ft.TextField(
        label=label,
        value=value,
        on_change=on_change,
        multiline=multiline,
        min_lines=2 if multiline else None,
        max_lines=6 if multiline else None,
        hint_text=hint,
        password=password,
        can_reveal_password=password,
        error=error,
        text_size=TEXT,
        keyboard_type=keyboard,
    )


def chip(
    label: str, selected: bool, on_select: OnSelect | Action | None, *, disabled: bool = False
) -> ft.Chip:
    return ft.Chip(
        label=ft.Text(label, size=TEXT - 1),
        selected=selected,
        on_select=on_select,
        disabled=disabled,
    )


def card(*controls: ft.Control, on_click: Action | None = None) -> ft.Card:
    """A card's texts are its name (Flutter merges them): no tooltip repeating them."""
    return ft.Card(
        content=ft.Container(
            content=ft.Column(list(controls), spacing=6), padding=14, on_click=on_click
        ),
    )


def banner(value: str, color: Any, *controls: ft.Control) -> ft.Container:
    return ft.Container(
        content=ft.Column([ft.Text(value, size=TEXT - 1, color=color), *controls], spacing=6),
        padding=10,
        border=ft.Border.all(1, color),
        border_radius=8,
    )


def snack(message: str, *, error: bool = False) -> ft.SnackBar:
    return ft.SnackBar(
        content=ft.Text(message, size=TEXT - 1, color=ft.Colors.WHITE),
        bgcolor=ERROR if error else None,
        duration=ft.Duration(seconds=6 if error else 4),
        show_close_icon=True,
    )


def loading(message: str) -> ft.Control:
    """A spinner and a line of text, centred: what shows while the app opens."""
    return ft.Container(
        content=ft.Column(
            [ft.ProgressRing(), text(message, color=MUTED)],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            tight=True,
            spacing=16,
        ),
        alignment=ft.Alignment.CENTER,
        expand=True,
    )
