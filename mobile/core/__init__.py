"""The field app's core: everything but the screens, with no flet import.

- ``models``: the plain records the store hands out (``User``, ``LocalVisit``, ``VisitState``...).
- ``db``: the SQLite file itself (connection, transactions, schema migrations, key/value).
- ``store``: the local store (account, pulled roster and policy, photo files) and its paths;
  it holds the two below.
- ``visits``: the visits on the phone: drafts, saves, deletes, conflicts, the server's copies
  (``VisitRepository``, ``store.visit_repo``).
- ``outbox``: the push queue that carries saves to the server exactly once (``VisitOutbox``,
  ``store.outbox``).
- ``photos``: shrink, strip and hash a photo before anything is stored; thumbnails.
- ``sync``: sign-in, pull, photo upload and push against the server; ``SyncScheduler``.
- ``session``: sign-in across launches, the token in secure storage.
- ``caseload``, ``trip``: this month's sessions and subsidy, by the shared rules.
- ``visit_form``: a visit form's state, its check and the ``VisitRecord`` it becomes.
- ``editor``: one visit being recorded or edited (``VisitEditor``): draft saves, photos, save.
- ``devices``: interfaces to GPS, camera/gallery, secure storage and connectivity, with fakes.
"""
