"""Moving history in and out: export a thread as Markdown or JSON, import tuichat's own
JSON or a ChatGPT data export. Pure functions over core models; the caller (cli/history.py,
or the UI for an in-app export) does the file and database work."""
