"""Helpers of the Inside the model page (pages/inside.py)."""
