"""`python -m core.export`: see core/export/cli.py."""
import sys

from core.export.cli import main

sys.exit(main())
