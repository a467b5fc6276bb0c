"""The field app's core: everything but the screens, with no flet import.

- ``models``: the plain records the store hands out (``User``, ``LocalVisit``, ``VisitState``...).
- ``store``: the local SQLite store (account, pulled roster, visits, photos) and its paths.
- ``outbox``: saving and deleting visits as queued sync ops (``VisitOutbox``).
- ``photos``: shrink, strip and hash a photo before anything is stored.
- ``sync``: sign-in, pull, photo upload and push against the server; ``SyncScheduler``.
- ``session``: sign-in across launches, the token in secure storage.
- ``caseload``, ``trip``: this month's sessions and subsidy, by the shared rules.
- ``visit_form``: a visit form's state, its check and the ``VisitRecord`` it becomes.
- ``devices``: interfaces to GPS, camera/gallery, secure storage and connectivity, with fakes.
"""
