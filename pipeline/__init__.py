"""The async question pipeline: question -> SQL -> guarded execution -> answer. Knows SQL and models, not platforms."""
