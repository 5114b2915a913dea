"""``python -m chainrule`` runs the command line."""

from .cli.commands import main

raise SystemExit(main())
