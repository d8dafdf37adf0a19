"""The doc-test harness: every code block of every docs page runs, and every shown output is checked.

pages.py     the Sybil configuration the root conftest.py uses (parsers, evaluators, one session per page)
fences.py    which fences are Python, shared with the layout test
embed.py     `--8<--` includes expanded by pymdownx.snippets itself, configured from mkdocs.yml
session.py   process-wide state a page may change, reset so each page runs as in a fresh interpreter
variants.py  content tabs labelled by environment, each checked where it applies
matrix.py    the environments of matrix/environments.toml, for the Makefile, CI, the footer and matrix runs
update.py    `make update-outputs`: shown outputs rewritten to what the code prints
"""
