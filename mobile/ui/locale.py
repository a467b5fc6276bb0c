"""The app speaks Simplified Chinese everywhere, Flutter's own words included.

Flutter names its built-in controls from the locale: without this the app bar's back arrow and
a dialog's close button are "Back" and "Close" to a screen reader, and the date picker is in
English. The phone's or browser's own language does not matter: the field app is zh-CN only.
"""

import flet as ft

ZH_CN = ft.Locale("zh", "CN", "Hans")


def apply_locale(page: ft.Page) -> None:
    page.locale_configuration = ft.LocaleConfiguration(
        supported_locales=[ZH_CN], current_locale=ZH_CN
    )
