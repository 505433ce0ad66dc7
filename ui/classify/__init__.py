"""Helpers of the Classify page (pages/classify.py).

canvas       the drawing canvas and its Undo / Clear buttons (no torch: drawn first)
view         the answer: prediction, what the model saw, where it looked, every model's vote
familiarity  the "I don't know" flag above a prediction
neighbours   the training images nearest to the input (a lazy expander)
"""
