"""MNIST Studio's engine: no Streamlit here. Four flows, one run system, four foundations.

Flows, each with its command line (`python -m core.<flow>`):
    train/     train a model: the schema (TrainConfig), the trainer, optimizers, augmentation
    predict/   classify one real image: preprocessing, the forward pass, saliency, "I don't know",
               fooling it (attacks)
    evaluate/  score a model on a split: metrics, cached predictions, calibration at a run's end
    export/    a model for use elsewhere: ONNX or TorchScript, normalisation inside
The run system:
    runs/      runs the web app queues, trains elsewhere (a scheduler process, executors) and keeps
Foundations, which import no flow (but evaluate's one rule for writing a percent):
    data/      the datasets, labelled image sets and a visitor's handwriting
    networks/  layer specs, architectures, checkpoints, calibration, the model catalog
    machine/   the device, the folders, atomic files
    server/    a deployment's settings, its visitors and their uploads
See docs/architecture.md.
"""
