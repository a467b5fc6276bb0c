"""``songjiao demo``: an invented Hangzhou district data set, planned as a pure function of fixed
seeds and loaded through the server's real services.

Planning (no database, no clock): ``profiles`` and ``words`` (what the districts look like and
what people are called and write), ``roster`` (schools, children, staff; rows in ``rows``,
points in ``places``), ``calendar`` (the term and its working days), ``planner`` with
``home_visits``, ``itinerant_visits`` and ``reviews`` (the visits and the coordinators'
decisions, assembled by ``visits``), ``photos``, and ``plan`` (all of it).

Loading: ``load`` runs ``load_roster``, ``load_fieldwork`` (photos and visits as the phones send
them) and ``load_reviews``; ``summary`` is what the command prints.
"""
