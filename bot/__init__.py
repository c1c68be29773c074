"""Platform adapters (terminal, Discord, Slack): platform events in, replies out; nothing about SQL.

core.py holds what every platform shares (rate limits, a bounded queue, structured logs, feedback, graceful
shutdown); discord_bot.py, slack_bot.py and terminal.py turn platform events into `Question`s and `Reply`s into
platform messages; charts.py draws a reply's rows as a PNG line or bar chart when they make one. May import
pipeline (its errors and table formatting); never askdb or finetune: `askdb serve` builds the pipeline and hands it
in.
"""
