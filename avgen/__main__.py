"""``python -m avgen`` is the ``avgen`` command line."""

from avgen.cli import main

raise SystemExit(main())
