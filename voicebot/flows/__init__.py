"""Call flows that admins write: a YAML language (``schema``), loading and validation
(``loader``, ``validate``), the pure engine (``engine.step``), the live reloading store
(``store``), data sources for lookups (``datasources``) and conversation tests
(``conversation``). See docs/flows.md."""
