"""The Alembic migrations of the node's SQL schema (run by ``open_stores``; see env.py)."""
