"""`python -m tuichat`."""

from tuichat.cli.main import main

raise SystemExit(main())
