"""`python -m magistrate.cli` is the `magistrate` command."""

from magistrate.cli._main import main

raise SystemExit(main())
