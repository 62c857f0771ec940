"""Persistence: SQLAlchemy tables (``tables``) and one owner per table group: ``calls`` (calls,
turns, transfers), ``customers`` (customers and orders), ``flow_versions``. SQLite by default,
PostgreSQL at scale."""
