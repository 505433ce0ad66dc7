"""Streamlit-only helpers shared by the pages: sidebar, cached loaders, charts, errors.

Nothing here computes results; that is core's job. core never imports this.
"""
