"""The front ends' entry points: `main` (arguments -> the app, pipe mode or a history
command), `pipe`, `history`; `make_app` builds the app for the CLI and the tests alike."""
