"""`python -m core.train`: see core/train/cli.py. Its --register records the run through
the run system's registrar, imported here, when the program runs: the trainer itself
never imports the run system (core/runs/)."""
import sys

from core.train import cli


def main(argv: list[str] | None = None) -> int:
    from core.runs.register import register_run  # the one link to the run system: docstring
    return cli.main(argv, register=register_run)


if __name__ == "__main__":
    sys.exit(main())
