"""`python -m core.data download [--dataset mnist|fashion|all] [--data-dir DIR]`.

Exit status: 0 when every dataset asked for is present and verified, 2 when one is
missing and cannot be downloaded (no network) or a file is corrupt.
"""
from __future__ import annotations

import argparse
import sys
import time

from core.data import DATASETS, ENV_DATA_ROOT, DataMissingError
from core.data.download import FILES, download, dataset_names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.data",
                                     description="Get the datasets onto this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help="download what is missing and verify every file "
                                          "(MD5); downloads nothing when all are present")
    get.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    get.add_argument("--data-dir", default=None,
                     help=f"the data root (default: ${ENV_DATA_ROOT}, else ./data)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status = 0
    for name in dataset_names(args.dataset):
        start = time.perf_counter()
        try:
            result = download(name, args.data_dir,
                              progress=lambda f, text: print(f"  {text}", file=sys.stderr))
        except DataMissingError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 2
            continue
        took = time.perf_counter() - start
        if result.already_present:
            print(f"{name}: already present, all {len(FILES)} files verified in "
                  f"{result.folder} ({took:.1f} s); nothing downloaded")
        else:
            print(f"{name}: downloaded {', '.join(result.downloaded)} into {result.folder}; "
                  f"all {len(FILES)} files verified ({took:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
