"""Entry point: `rnn-tune {train,predict,sweep,promote,report,monitor,vectors} ...`; bad input
exits 2, one line."""

from __future__ import annotations

import argparse
import sys

from base.errors import UsageError
from tune.cli import monitor, predict, promote, report, sweep, train, vectors

SUBCOMMANDS = {
    "train": train,
    "predict": predict,
    "sweep": sweep,
    "promote": promote,
    "report": report,
    "monitor": monitor,
    "vectors": vectors,
}


class Parser(argparse.ArgumentParser):
    """argparse whose errors are the one-line form every other error takes, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rnn-tune", description="Tune RNN/LSTM/GRU text classifiers with Ray Tune and Optuna."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS.values():
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:  # ConfigError, DataError, a run directory in use
        print(f"rnn-tune {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, a path that is a file
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"rnn-tune {args.command}: error: {exc.strerror or exc}:{where}; check that the path "
            "is a writable folder with free space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"rnn-tune {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
