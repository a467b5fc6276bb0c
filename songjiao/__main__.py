"""``python -m songjiao``: the same as the ``songjiao`` command."""

import sys

from songjiao.cli import main

sys.exit(main())
