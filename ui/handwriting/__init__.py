"""The Your handwriting page's helpers: the set per class (view.py) and its fine-tune (tune.py)."""
