"""The async question pipeline: question -> SQL -> guard -> execute -> answer. Knows SQL and models, not platforms.

Stages, one module each: generate.py (prompt.py, retrieval.py, linking.py, slots.py, extract.py, then mend.py with
its rules in grounding.py, shaping.py, linking.py), guard.py, executor.py, render.py, composed in pipeline.py.
Around them: schema introspection (schema.py, relations.py for undeclared joins, periods.py), the read-only role
(roles.py), connections (database.py), the feedback tables (feedback_store.py, migrations/), the error tree
(errors.py) and the model backends (models/).
May import only the standard library and third-party packages: never askdb, bot or finetune, which all import it.
"""
