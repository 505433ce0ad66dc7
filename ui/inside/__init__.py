"""Helpers of the Inside the model page (pages/inside.py).

    embedding_map  the test set's embedding map: shipped, cached, or computed in the
                   background with its progress on the page
"""
