"""MkDocs build hooks (mkdocs.yml's hooks:), importable as modules for the tests and the bench."""
