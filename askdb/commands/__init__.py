"""One module per command group; each has register(subparsers) and sets func(args) -> int.

May import askdb (config, runtime, profile), pipeline, finetune and bot: commands are where the parts meet. An
AskdbError a command raises is turned into a message in askdb/cli.py.
"""
