"""MNIST Studio's engine: no Streamlit here, grouped by the three flows its CLIs name.

    core/train/     train a model: the schema, the trainer, the run system
    core/predict/   classify one real image: preprocessing, the forward pass, saliency
    core/evaluate/  score a model on a split: metrics, cached predictions, comparisons
and the foundations they share: data/ (datasets), models, checkpoints, device,
augment, files, paths, catalog (which models exist), settings (a deployment's
limits) and visitors (identities and rights). Foundations never import a flow.
See docs/architecture.md.
"""
