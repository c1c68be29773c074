"""The bundled course database: schema, deterministic seed data and loader (see seed.py)."""
