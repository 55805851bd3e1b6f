"""Alembic revisions of the node's SQL schema, oldest first (``0001_initial`` and on)."""
