"""askdb: natural-language questions about a PostgreSQL database, answered by a small local LLM.

The application: the `askdb` command (cli.py, one module per command group in commands/), configuration
(config.py), profiles (profile.py: what was learned about one database, in profiles/<name>/), the runtime that opens
the pool, the models and the pipeline once and passes them down (runtime.py), embedded PostgreSQL (embedded.py) and
the bundled course database (coursedb/).
May import pipeline, bot and finetune: it is the one place that wires them together. None of them imports askdb.
"""
