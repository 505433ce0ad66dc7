"""python -m core.train: train one model from a shell.

    python -m core.train --dataset fashion --model cnn --epochs 8 --out weights/fashion-cnn.pt

The settings' flags are made from TrainConfig's fields (name, type, default,
help, range); TrainConfig checks the values, so a bad one gets the same
message here as in the app.

    python -m core.train --resume runs/cli/fashion-cnn-s0.last.pt

continues an interrupted run with its own settings, into its own --out; only
--device and --data-dir may differ (this machine's), and a flag that would
change the run is refused. A run whose loss diverged exits with status 1.

    python -m core.train finetune --from CKPT --images SET.npz --out OUT.pt [--holdout 0.5]

fine-tunes a checkpoint on a small labelled set (core/train/finetune_cli.py).

    python -m core.train --dataset mnist --model fastcnn --epochs 1 --export-script run.py

writes the run as a standalone PyTorch script (core/train/script.py) and trains nothing.

--register records the run in the app's run store, through the registrar that
`main` is given: the run system's (core.runs.register.register_run, passed
in by core/train/__main__.py), so the trainer does not import the run system.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

from tqdm import tqdm

from core.data import DataMissingError, load_bundle
from core.evaluate.final import finish
from core.evaluate.metrics import EvalResult
from core.machine.device import pick_device
from core.networks.checkpoints import CheckpointError, load_checkpoint
from core.networks.models import CUSTOM
from core.networks.spec import GRAMMAR
from core.train.config import TrainConfig
from core.train.events import EpochEvent, Event, StepEvent, TrainResult
from core.train.finetune_cli import main as finetune_main
from core.train.loop import train
from core.train.resume import ResumePoint, resume_point
from core.train.script import script
from core.train.summary import RunSummary

RESUME_OVERRIDES = ("device", "data_dir")  # where a resumed run trains, not what it is


class EventLog:
    """The trainer's events kept for the run store, each passed on to `then` (the progress bar)."""

    def __init__(self, then: Callable[[Event], None] | None = None) -> None:
        self.then, self.events = then, []
        self.started_at = time.time()

    def __call__(self, event: Event) -> None:
        self.events.append(dataclasses.asdict(event))
        if self.then is not None:
            self.then(event)


_GRAMMAR = ("A custom model (--model custom --layers \"...\", or --arch-file FILE): its "
            "layers, comma-separated,\nfrom the 1x28x28 image to the 10 logits:\n" + GRAMMAR)


# What --register calls: (result, test, summary, best, last, log, runs folder) -> the run's id.
Registrar = Callable[[TrainResult, EvalResult, RunSummary, Path, Path, EventLog, str | None], str]


def _add_setting_flags(p: argparse.ArgumentParser) -> None:
    types, defaults = TrainConfig.types(), TrainConfig.defaults()
    for name, s in TrainConfig.settings().items():
        flag, kind, default = "--" + name.replace("_", "-"), types[name], defaults[name]
        if kind is bool:
            p.add_argument(flag, action="store_true", help=s.help)
            continue
        # No argparse `choices`: TrainConfig refuses an unknown value, with its own message.
        # No argparse `required` either: --resume needs none of them (see _parse).
        shown = [s.range_text] if s.range_text and not s.choices else []
        shown += [] if s.cli_required or default is None else [f"default {default}"]
        p.add_argument(flag, type=kind, default=None if s.cli_required else default,
                       metavar="{" + ",".join(s.choices) + "}" if s.choices else None,
                       help=s.help + (f" ({'; '.join(shown)})" if shown else ""))


def parser() -> argparse.ArgumentParser:
    """The flags: every TrainConfig setting, plus where to write, resume and register."""
    p = argparse.ArgumentParser(
        prog="python -m core.train",
        description="Train a model on MNIST or Fashion-MNIST. The best epoch by validation "
                    "loss (12,000 images held out of the training set) is saved; the test "
                    "set is evaluated once, at the end.",
        epilog=_GRAMMAR, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_setting_flags(p)
    p.add_argument("--arch-file", default=None, metavar="SPEC.json",
                   help="a custom model's layers from a file: a JSON list (tokens or objects "
                        "like {\"type\": \"conv\", \"channels\": 32, \"kernel\": 3}) or the "
                        "token string; implies --model custom")
    p.add_argument("--out", default=None,
                   help="where to write the best checkpoint (default runs/cli/DATASET-MODEL-sSEED.pt); "
                        "the resumable state goes beside it as *.last.pt until the run completes")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue an interrupted run from its *.last.pt, with its own settings "
                        "and --out (only --device and --data-dir may differ)")
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="start from this checkpoint's weights instead of random ones (a "
                        "fine-tune, e.g. with --outlier-exposure); it must be of the same "
                        "dataset and architecture")
    p.add_argument("--export-script", default=None, metavar="FILE.py",
                   help="write these settings as a standalone PyTorch script (imports only "
                        "torch and torchvision; run it with: python FILE.py --data DIR) and "
                        "train nothing")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the results as the last line of stdout")
    p.add_argument("--register", action="store_true",
                   help="also record the finished (or stopped) run in the app's runs folder, "
                        "owned by 'cli': the Train page lists it and an admin can use, resume "
                        "or delete it")
    p.add_argument("--runs", default=None, metavar="DIR",
                   help="the app's runs folder for --register (default $MNIST_STUDIO_RUNS, "
                        "else runs/ in the project folder)")
    return p


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, set[str]]:
    """The arguments, and the names of those given on the command line (not defaulted)."""
    p = parser()
    args = p.parse_args(argv)
    for action in p._actions:  # parsed again with no defaults: what is left was typed
        action.default = argparse.SUPPRESS
    given = set(vars(p.parse_args(argv)))
    if args.arch_file:
        if "layers" in given:
            p.error("give the layers once: --layers or --arch-file")
        try:
            args.layers = Path(args.arch_file).read_text()
        except OSError as err:
            p.error(f"--arch-file: {err.strerror}: {args.arch_file}")
        given.add("layers")
    if "layers" in given and "model" not in given:  # --layers alone means a custom model
        args.model = CUSTOM
        given.add("model")
    missing = [f"--{n.replace('_', '-')}" for n, s in TrainConfig.settings().items()
               if s.cli_required and n not in given]
    if missing and not args.resume:
        p.error(f"the following arguments are required: {', '.join(missing)}")
    return args, given


def config_of(args: argparse.Namespace) -> TrainConfig:
    """The run's settings from parsed flags (raises ConfigError, naming the field)."""
    return TrainConfig.from_values(vars(args))


def resumed_run(args: argparse.Namespace, given: set[str]) -> tuple[ResumePoint, Path, str]:
    """The run a --resume continues (on this machine's device and data), its --out, and
    a line saying so. Raises ValueError for a flag that would change the run."""
    point = resume_point(args.resume)
    cfg = point.config
    out = point.best_path or Path(args.resume.removesuffix(".last.pt") + ".pt")
    changed = [f"--{n.replace('_', '-')} {getattr(args, n)}" for n in sorted(given)
               if n in TrainConfig.settings() and n not in RESUME_OVERRIDES
               and getattr(args, n) != getattr(cfg, n)]
    if "out" in given and Path(args.out).resolve() != out.resolve():
        changed.append(f"--out {args.out}")
    if changed:
        raise ValueError(f"{', '.join(changed)} would change the run that {args.resume} "
                         f"continues (only --device and --data-dir may differ); start a new "
                         f"run for other settings")
    overrides = {n: getattr(args, n) for n in RESUME_OVERRIDES if n in given}
    point.config = dataclasses.replace(cfg, **overrides)
    said = [f"--{n.replace('_', '-')} overridden to {v}" for n, v in overrides.items()
            if v != getattr(cfg, n)]
    return point, out, "; ".join([f"resuming {out} from step {point.step}"] + said)


def _init_weights(path: str, cfg: TrainConfig) -> dict:
    """The weights a run starts from (--init-from); ValueError when they do not fit it."""
    checkpoint = load_checkpoint(path)
    meta = checkpoint.meta
    if (meta.dataset, meta.architecture, meta.layers) != (cfg.dataset, cfg.model, cfg.layers):
        raise ValueError(f"--init-from {path} is a {meta.dataset} {meta.architecture} model; "
                         f"this run trains a {cfg.dataset} {cfg.model}")
    return checkpoint.model.state_dict()


def _progress_printer(cfg: TrainConfig, train_size: int):
    """A tqdm bar on stderr moved by StepEvents, and one line per epoch."""
    steps_per_epoch = math.ceil(train_size / cfg.batch_size)
    bar = tqdm(total=steps_per_epoch * cfg.epochs, unit="step", file=sys.stderr,
               dynamic_ncols=True, disable=None)

    def on_event(ev: Event) -> None:
        if isinstance(ev, StepEvent):
            bar.n = ev.step
            bar.set_postfix(epoch=ev.epoch, loss=f"{ev.loss:.3f}",
                            sps=f"{ev.samples_per_second:,.0f}", refresh=False)
            bar.update(0)
        elif isinstance(ev, EpochEvent):
            bar.write(f"epoch {ev.epoch}/{ev.epochs}  train loss {ev.train_loss:.4f} acc "
                      f"{ev.train_accuracy:.2%}  val loss {ev.val_loss:.4f} acc "
                      f"{ev.val_accuracy:.2%}  {ev.elapsed:.1f}s{'  *best' if ev.best else ''}",
                      file=sys.stderr)
    return bar, on_event


def _stop_on_sigint() -> Callable[[], bool]:
    stop = {"now": False}

    def on_sigint(*_):  # first Ctrl-C: stop cleanly and keep what we have
        stop["now"] = True
    signal.signal(signal.SIGINT, on_sigint)
    return lambda: stop["now"]


def _register(register: Registrar, result: TrainResult, test: EvalResult, summary: RunSummary,
              out: Path, last: Path, log: EventLog, runs: str | None, human: TextIO) -> bool:
    """--register: record the run in the app's run store; False (said why) if it failed.
    The checkpoint stays where it was written either way."""
    try:
        run_id = register(result, test, summary, out, last, log, runs)
    except (OSError, RuntimeError, sqlite3.Error) as err:
        print(f"error: could not register the run in the app's runs folder "
              f"({type(err).__name__}: {err}); the checkpoint is kept at {out}", file=sys.stderr)
        return False
    print(f"registered in the app as run {run_id} (owner 'cli')", file=human)
    return True


def _export_script(args: argparse.Namespace) -> int:
    """--export-script: the settings as a standalone script (core/train/script.py); no data
    is read and nothing trains."""
    if args.resume or args.init_from:
        print("error: --export-script writes the script of the settings given as flags; "
              f"it does not take {'--resume' if args.resume else '--init-from'}",
              file=sys.stderr)
        return 2
    try:
        text = script(config_of(args))
        Path(args.export_script).write_text(text)
    except (ValueError, OSError) as err:  # ConfigError, SpecError; an unwritable path
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.export_script} ({len(text.splitlines())} lines): run it with "
          f"python {shlex.quote(args.export_script)} --data DIR (a torchvision data root)")
    return 0


def main(argv: list[str] | None = None, register: Registrar | None = None) -> int:
    """The command line; `register` records a run for --register (core/train/__main__.py
    passes the run system's)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["finetune"]:  # python -m core.train finetune ...: core/train/finetune_cli.py
        return finetune_main(argv[1:])


    args, given = parse_args(argv)
    if args.export_script:
        return _export_script(args)
    if args.register and register is None:
        print("error: --register needs the app's run system: run python -m core.train",
              file=sys.stderr)
        return 2
    try:
        if args.resume:
            point, out, said = resumed_run(args, given)
            cfg, last = point.config, Path(args.resume)  # saves go on into the same file
        else:
            cfg = config_of(args)
            out = Path(args.out or f"runs/cli/{cfg.dataset}-{cfg.model}-s{cfg.seed}.pt")
            last = out.with_suffix(".last.pt")
        if args.init_from and args.resume:
            raise ValueError("--init-from starts a new run; a resumed run has its own weights")
        init = _init_weights(args.init_from, cfg) if args.init_from else None
        pick_device(cfg.device)  # a device this machine lacks: said now, not as a traceback
        data = load_bundle(cfg.dataset, cfg.data_dir)
    except (ValueError, DataMissingError, CheckpointError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.resume:
        print(said, file=sys.stderr)

    should_stop = _stop_on_sigint()
    bar, on_event = _progress_printer(cfg, len(data.train))
    log = EventLog(on_event) if args.register else None  # the metrics it records
    result = train(cfg, data, log or on_event, should_stop, out, last, args.resume,
                   init_weights=init)
    bar.close()
    test, summary = finish(result, data, out)
    if not result.stopped:  # finished, or diverged (resuming would diverge again)
        last.unlink(missing_ok=True)
    human = sys.stderr if args.json else sys.stdout
    resume = f"python -m core.train --resume {shlex.quote(str(last))}"
    print(f"test accuracy {summary.test_accuracy:.2%} (best epoch {summary.best_epoch} by "
          f"validation loss, val acc {summary.val_accuracy:.2%}), {result.train_seconds:.1f}s "
          f"of training at {result.samples_per_second:,.0f} samples/s on {result.device}"
          + (f"; stopped: resume with: {resume}" if result.stopped else ""), file=human)
    if result.diverged:
        print(f"diverged: {result.divergence}", file=sys.stderr)
    elif summary.near_chance:
        print(f"warning: validation accuracy {summary.val_accuracy:.2%} is near chance: the "
              f"model barely learned", file=sys.stderr)
    print(f"checkpoint: {out}", file=human)
    if args.register and not _register(register, result, test, summary, out, last, log, args.runs,
                                       human):
        return 1
    if args.json:
        print(json.dumps(summary.to_json()))
    return 1 if result.diverged else 0
