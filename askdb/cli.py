"""The `askdb` command: every subcommand, one place that turns errors into messages."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Each module registers its own subcommands; a module that is not installed is simply absent.
COMMAND_MODULES = ("setup", "ask", "db", "generate", "train", "evaluate", "export", "serve", "feedback")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="askdb", description="Ask questions about a PostgreSQL database.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"askdb.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"askdb.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipeline.errors import AskdbError

    # Quiet before the commands' modules import the libraries: some warn as they are imported.
    if not {"-v", "--verbose"} & set(sys.argv[1:] if argv is None else argv):
        _quiet_libraries()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except AskdbError as exc:
        print(f"askdb: {exc.user_message()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("askdb: interrupted", file=sys.stderr)
        return 130


def _quiet_libraries() -> None:
    """No library warnings (transformers' and torch's FutureWarnings are addressed to their callers' authors, not to
    whoever asks a question) and no progress bars; errors still reach stderr. `askdb -v` shows everything."""
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")  # library progress bars (GGUF dequantizing, weight loading)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


if __name__ == "__main__":
    sys.exit(main())
