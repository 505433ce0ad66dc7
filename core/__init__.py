"""MNIST Studio's engine: no Streamlit here, grouped by the flows its CLIs name.

    core/train/     train a model: the schema, the trainer, the run system
    core/predict/   classify one real image: preprocessing, the forward pass, saliency
    core/evaluate/  score a model on a split: metrics, cached predictions, comparisons
    core/export/    a model for use elsewhere: ONNX or TorchScript, normalisation inside
and the foundations they share: data/ (datasets), models, checkpoints, device,
augment, files, paths, catalog (which models exist), settings (a deployment's
limits), visitors (identities and rights) and uploads (visitors' own
checkpoints). Foundations never import a flow.
See docs/architecture.md.
"""
