"""Fine-tuning and evaluation of the SQL-writing model."""
