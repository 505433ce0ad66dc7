"""python -m core.train: train one model from a shell.

    python -m core.train --dataset fashion --model cnn --epochs 8 --out weights/fashion-cnn.pt
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from pathlib import Path

from core.data import load_bundle
from core.models import count_parameters
from core.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
from core.train.loop import Event, StepEvent, finish, resume_config, train


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m core.train",
        description="Train a model on MNIST or Fashion-MNIST. The best epoch by validation "
                    "loss (12,000 images held out of the training set) is saved; the test "
                    "set is evaluated once, at the end.")
    p.add_argument("--dataset", choices=["mnist", "fashion"], required=True,
                   help="mnist (digits) or fashion (garments)")
    p.add_argument("--model", required=True, help="architecture name, e.g. ffnn, cnn, resnet "
                   "(python -c 'import core.models as m; print(list(m.ARCHITECTURES))' lists them)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the 48,000 training images (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"samples per step (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate; the peak under onecycle (default {d.lr})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help=f"default {d.optimizer}")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule,
                   help=f"learning-rate schedule (default {d.schedule})")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="weight decay (default 0)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help="label smoothing (default 0)")
    p.add_argument("--augment", action="store_true",
                   help="random shifts of up to 2 px (and horizontal flips for fashion)")
    p.add_argument("--erase", type=int, default=0, help="with --augment: cutout square side in px (default 0, off)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="auto picks cuda, then mps, then cpu")
    p.add_argument("--data-dir", default=None,
                   help="data root holding MNIST/raw and FashionMNIST/raw (default: $MNIST_STUDIO_DATA, else ./data)")
    p.add_argument("--out", default=None,
                   help="where to write the best checkpoint (default runs/cli/DATASET-MODEL-sSEED.pt); "
                        "the resumable state goes beside it as *.last.pt until the run completes")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue an interrupted run from its *.last.pt (its saved settings are used)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the results as the last line of stdout")
    return p


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from core.data import DataMissingError
    from core.checkpoints import CheckpointError

    args = _parser().parse_args(argv)
    try:
        if args.resume:
            cfg = resume_config(args.resume)
            cfg.device, cfg.data_dir = args.device, args.data_dir or cfg.data_dir
        else:
            cfg = TrainConfig(dataset=args.dataset, model=args.model, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                              schedule=args.schedule, weight_decay=args.weight_decay,
                              label_smoothing=args.label_smoothing, augment=args.augment,
                              erase=args.erase, seed=args.seed, device=args.device,
                              data_dir=args.data_dir)
        out = Path(args.out or f"runs/cli/{cfg.dataset}-{cfg.model}-s{cfg.seed}.pt")
        last = out.with_suffix(".last.pt")
        data = load_bundle(cfg.dataset, cfg.data_dir)
    except (ValueError, DataMissingError, CheckpointError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    stop = {"now": False}

    def on_sigint(*_):  # first Ctrl-C: stop cleanly and keep what we have
        stop["now"] = True
    signal.signal(signal.SIGINT, on_sigint)

    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    bar = tqdm(total=steps_per_epoch * cfg.epochs, unit="step", file=sys.stderr,
               dynamic_ncols=True, disable=None)

    def on_event(ev: Event) -> None:
        if isinstance(ev, StepEvent):
            bar.n = ev.step
            bar.set_postfix(epoch=ev.epoch, loss=f"{ev.loss:.3f}",
                            sps=f"{ev.samples_per_second:,.0f}", refresh=False)
            bar.update(0)
        else:
            bar.write(f"epoch {ev.epoch}/{ev.epochs}  train loss {ev.train_loss:.4f} acc "
                      f"{ev.train_accuracy:.2%}  val loss {ev.val_loss:.4f} acc "
                      f"{ev.val_accuracy:.2%}  {ev.elapsed:.1f}s{'  *best' if ev.best else ''}",
                      file=sys.stderr)

    result = train(cfg, data, on_event, lambda: stop["now"], out, last, args.resume)
    bar.close()
    test = finish(result, data, out)
    if not result.stopped:
        last.unlink(missing_ok=True)
    summary = {"dataset": cfg.dataset, "model": cfg.model, "epochs": cfg.epochs,
               "device": result.device, "test_accuracy": test.accuracy,
               "val_accuracy": result.best_val_accuracy, "val_loss": result.best_val_loss,
               "best_epoch": result.best_epoch, "train_seconds": round(result.train_seconds, 3),
               "samples_per_second": round(result.samples_per_second, 1),
               "parameters": count_parameters(result.model), "seed": cfg.seed,
               "stopped": result.stopped, "checkpoint": str(out)}
    print(f"test accuracy {test.accuracy:.2%} (best epoch {result.best_epoch} by validation "
          f"loss, val acc {result.best_val_accuracy:.2%}), {result.train_seconds:.1f}s of "
          f"training at {result.samples_per_second:,.0f} samples/s on {result.device}"
          + (f"; stopped: resume with --resume {last}" if result.stopped else ""),
          file=sys.stderr if args.json else sys.stdout)
    print(f"checkpoint: {out}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(summary))
    return 0

