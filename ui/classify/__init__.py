"""Helpers of the Classify page (pages/classify.py).

canvas       the drawing canvas and its Undo / Clear buttons (no torch: drawn first)
canvas_component  the canvas itself: a component that sends each stroke at once (+ its .js)
view         the answer: prediction, what the model saw, where it looked, every model's vote
familiarity  the "I don't know" flag above a prediction
teach        "It's a 7": keeping a drawing in the visitor's handwriting set
fool         "Fool it": the smallest change that flips the answer
neighbours   the training images nearest to the input (its own lazy section)
"""
