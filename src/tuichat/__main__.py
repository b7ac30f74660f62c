"""`python -m tuichat`."""

from tuichat.cli.main import entry

entry()
