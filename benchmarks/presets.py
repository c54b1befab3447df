"""Train presets on full MNIST through the real loop; print time and test accuracy per epoch.

    .venv/bin/python benchmarks/presets.py quick-start best-accuracy
    .venv/bin/python benchmarks/presets.py initialisation            # every variant of a comparison
    .venv/bin/python benchmarks/presets.py best-accuracy --set epochs=20 --set dropout=0.3

This is how the figures in benchmarks/PRESETS.md and the README were produced. "train s" is the
loop's own training time (evaluation excluded); "wall s" includes the per-epoch test evaluation.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchnet.data import load_dataset
from scratchnet.presets import PRESETS, Preset
from scratchnet.run_config import hidden_layers
from scratchnet.training import train


def parse_change(text: str) -> tuple[str, object]:
    """'epochs=20' -> ('epochs', 20); 'hidden=800,800' -> ('hidden', (800, 800)); strings stay strings."""
    key, _, raw = text.partition("=")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    if key == "hidden":
        value = hidden_layers(*(value if isinstance(value, tuple) else (value,)))
    return key, value


def augmentation_seconds(preset: Preset, x) -> float:
    """Median wall time of three passes of the preset's augmentation over x in its mini-batches."""
    config = preset.config
    augmenter = config.build_augmenter()
    rng = np.random.default_rng(config.seed)
    passes = []
    for _ in range(3):
        started = time.perf_counter()
        for start in range(0, len(x), config.batch_size):
            augmenter(x[start : start + config.batch_size], rng)
        passes.append(time.perf_counter() - started)
    return float(np.median(passes))


def run(preset: Preset, dataset) -> dict:
    config = preset.config
    dataset = dataset.subset(config.n_train(len(dataset.x_train)))
    model = config.build_model(dataset.x_train.shape[1], dataset.num_classes)
    print(f"== {preset.title} ({preset.name}) {model.param_count():,} parameters", flush=True)
    print(f"   {config}", flush=True)
    if config.augment:
        print(f"   augmentation alone: {augmentation_seconds(preset, dataset.x_train):.2f} s per pass over the "
              f"{len(dataset.x_train):,} training images", flush=True)
    started = time.perf_counter()
    done = {}
    for log in train(model, config.build_optimizer(), dataset.x_train, dataset.y_train, config.train_config(),
                     x_test=dataset.x_test, y_test=dataset.y_test, augment=config.build_augmenter()):
        if log["event"] == "epoch":
            print(f"   epoch {log['epoch']:>3}  loss {log['loss']:.4f}  train acc {log['accuracy']:.2%}  "
                  f"test acc {log['test_accuracy']:.2%}  epoch {log['seconds']:.2f} s  "
                  f"wall {time.perf_counter() - started:.1f} s", flush=True)
        elif log["event"] == "done":
            done = log
    wall = time.perf_counter() - started
    print(f"   done: test accuracy {done['test_accuracy']:.2%}, train {done['seconds']:.1f} s, wall {wall:.1f} s",
          flush=True)
    return {"test_accuracy": done["test_accuracy"], "train_seconds": done["seconds"], "wall_seconds": wall}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+", choices=list(PRESETS))
    parser.add_argument("--set", action="append", default=[], type=parse_change, metavar="FIELD=VALUE",
                        help="change a run configuration field of the preset for this run")
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset)
    for name in args.presets:
        preset = replace(PRESETS[name], config=PRESETS[name].config.replace(**dict(args.set)))
        for one in [preset.variant(v.label) for v in preset.variants] or [preset]:
            run(one, dataset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
