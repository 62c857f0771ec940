"""Persistence: SQLAlchemy tables and repositories (SQLite by default, PostgreSQL at scale)."""
