-- Each answer keeps the mend rules that rewrote the model's statement (pipeline.mend.Change: rule, before, after),
-- so a reviewer of a flag sees why the SQL that ran differs from what the model wrote.
ALTER TABLE interactions ADD COLUMN mends jsonb;
