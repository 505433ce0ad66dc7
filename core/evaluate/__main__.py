"""`python -m core.evaluate`: see core/evaluate/cli.py."""
import sys

from core.evaluate.cli import main

sys.exit(main())
