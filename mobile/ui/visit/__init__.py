"""Recording a visit: the form screen and its sections.

- ``screen``: ``VisitScreen``, the sections in order, 保存 and 放弃.
- ``section``: what every section shares (the editor, the handlers' helpers, the frame).
- ``checks``: 签到 and 签退 (the tap's time and position, a corrected time).
- ``content``: what was taught (home teaching) or found and recommended (itinerant).
- ``photos``: the photo tiles, camera and gallery.
- ``trip``: the travel claim and its subsidy.
"""

from mobile.ui.visit.screen import VisitScreen

__all__ = ["VisitScreen"]
