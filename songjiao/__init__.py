"""The ``songjiao`` command line, the one home of the server's commands and the field app's:
``server`` and ``mobile`` each add their own (``add_commands``) and know nothing of each other."""
