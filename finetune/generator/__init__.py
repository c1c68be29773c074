"""The data generator: question/SQL pairs for one database, every SQL run and verified before it is kept.

profile.py reads the schema's properties (keys, labels, categories, numbers, dates), values.py samples real values,
shapes.py and analyses.py build one SQL statement per query shape, questions.py and paraphrase.py phrase it,
verify.py, dedupe.py and writer.py keep what runs, answers and is new; run.py orchestrates.
May import pipeline (schema, words, guard, executor, model protocol) and its own modules; never askdb or bot.
"""
