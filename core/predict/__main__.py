"""`python -m core.predict`: see core/predict/cli.py."""
import sys

from core.predict.cli import main

sys.exit(main())
