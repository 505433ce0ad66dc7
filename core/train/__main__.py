"""`python -m core.train`: see core/train/cli.py."""
import sys

from core.train.cli import main

sys.exit(main())
