"""The Evaluate page's helpers: accuracy under attack (robust.py)."""
