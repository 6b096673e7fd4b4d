"""``python -m wholebody VERB ...`` is the same as the ``wholebody`` console script."""

from wholebody.cli.main import main

raise SystemExit(main())
