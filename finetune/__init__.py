"""Training and measuring the SQL-writing model for one database.

generator/ writes verified question/SQL pairs, dataset.py and train.py train a LoRA adapter on them, evaluate.py
scores execution accuracy through the real pipeline, variants.py multiplies feedback corrections, export.py writes
Ollama and vLLM artefacts; eval/ holds the hand-written question sets.
May import pipeline (schema, prompt, retrieval, guard, executor, models), so that the model is trained and measured
on exactly what serves it; never askdb or bot.
"""
