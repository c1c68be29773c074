"""The bundled course database: schema, deterministic seed data and loader (see seed.py).

May import pipeline.database only; used by `askdb db init`, `make demo` and the tests.
"""
