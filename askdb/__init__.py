"""askdb: natural-language questions about a PostgreSQL database, answered by a small local LLM."""
