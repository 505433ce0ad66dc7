"""Streamlit-only helpers of the pages: what one page needs sits in the package named
like its page file, what several pages need sits in common.

    common/       every page's helpers: session state, sidebar, loaders, errors, charts...
    classify/     pages/classify.py's: the canvas, the answer, "I don't know", teach, fool it
    train/        pages/train.py's: the settings form, the layer editor, sweeps, the runs
    evaluate/     pages/evaluate.py's: accuracy under attack
    inside/       pages/inside.py's: the embedding map, once it is ready
    handwriting/  pages/handwriting.py's: the set per class and its fine-tune
    assets/       the favicon

A page package imports common and nothing of another page's package; common imports
no page package (tests/test_ui_layout.py checks both). Nothing here computes results;
that is core's job. core never imports this.
"""
