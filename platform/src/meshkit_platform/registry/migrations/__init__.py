"""The registry's Alembic migrations (``env.py`` and ``versions/``), run by ``migrate``."""
