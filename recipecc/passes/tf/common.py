"""What the tf passes share: importing TensorFlow the way tfmot needs, Keras model files, training, file sizes.

``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported (tfmot 0.8 does not support Keras 3);
the worker sets it, and :func:`tf_modules` sets it again so a pass called in-process (tests) behaves the same.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassFailure, TrainSettings, progress
from recipecc.passes.quiet import quiet_native_stderr

__all__ = [
    "KERAS_FILE",
    "TFLITE_FILE",
    "count_params",
    "gzip_size",
    "keras_scope",
    "load_keras",
    "quiet_native_stderr",
    "recalibrate_batch_norm",
    "save_keras",
    "tf_modules",
    "train_keras",
]

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"


def tf_modules() -> tuple[Any, Any]:
    """``(tensorflow, tf_keras)``, with legacy Keras selected first (tfmot needs it)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tf_keras" not in sys.modules:
        with quiet_native_stderr():
            import tensorflow as tf
            import tf_keras

            tf.constant(0.0)  # initialises the devices (the cuInit message) while quiet
    import tensorflow as tf
    import tf_keras

    return tf, tf_keras


@contextmanager
def keras_scope() -> Iterator[None]:
    """Custom objects of tfmot (pruning wrappers, QAT layers), so any model a tf pass saved loads again."""
    tf_modules()
    import tensorflow_model_optimization as tfmot

    with tfmot.quantization.keras.quantize_scope(), tfmot.sparsity.keras.prune_scope():
        yield


def load_keras(path: Path, *, trusted: bool = False) -> Any:
    """A Keras model from a ``.keras``/``.h5`` file or a Keras SavedModel directory, without compiling it.

    Keras checks ``safe_mode`` only for ``.keras`` archives; a ``.h5`` file's or a SavedModel's Lambda layer is
    marshalled Python bytecode that runs once the model is called. The plan refuses such ``.h5`` files, and here
    tf-keras' safe-mode scope covers every format, so a file swapped after the plan, or a SavedModel, is refused
    too, unless ``model.trusted=true`` was given on the command line (carried as ``trusted`` in the model's meta).
    """
    _, keras = tf_modules()
    from tf_keras.src.saving.serialization_lib import SafeModeScope

    try:
        with keras_scope(), SafeModeScope(not trusted):
            return keras.models.load_model(str(path), compile=False, safe_mode=not trusted)
    except Exception as exc:  # Keras raises many types for "not a Keras model"
        raise PassFailure(f"cannot load {path} as a Keras model ({type(exc).__name__}: {exc})") from exc


def save_keras(model: Any, folder: Path) -> Path:
    path = folder / KERAS_FILE
    model.save(str(path))
    return path


def count_params(model: Any) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights if "optimizer" not in w.name))


def gzip_size(path: Path) -> int:
    """Bytes of ``path`` gzipped at level 9: what zeroed (pruned) weights save when a file is compressed."""
    with path.open("rb") as raw:
        return len(gzip.compress(raw.read(), compresslevel=9, mtime=0))


def copy_model(source: Path, folder: Path) -> Path:
    """Copy a user's model file or directory into an artifact folder (the cache owns its copy)."""
    target = folder / source.name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
    return target


def _optimizer(keras: Any, name: str, lr: Any, weight_decay: float) -> Any:
    decay = weight_decay or None
    if name == "momentum":
        return keras.optimizers.SGD(lr, momentum=0.9, weight_decay=decay)
    if name == "adam":
        return keras.optimizers.Adam(lr, weight_decay=decay)
    if name == "sgd":
        return keras.optimizers.SGD(lr, weight_decay=decay)
    raise PassFailure(f"unknown optimizer '{name}'")


def _batches(keras: Any, x: NDArray[Any], y: NDArray[Any], batch_size: int, seed: int) -> Any:
    """Shuffled batches read from the (possibly memory-mapped) arrays one at a time, never the whole set."""

    class Batches(keras.utils.Sequence):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.RandomState(seed)
            self.order = self.rng.permutation(len(x))

        def __len__(self) -> int:
            return (len(x) + batch_size - 1) // batch_size

        def __getitem__(self, index: int) -> tuple[NDArray[Any], NDArray[Any]]:
            batch = np.sort(self.order[index * batch_size : (index + 1) * batch_size])
            return np.ascontiguousarray(x[batch], dtype=np.float32), np.asarray(y[batch])

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(x))

    return Batches()


def recalibrate_batch_norm(model: Any, images: NDArray[Any], batches: int = 24, batch_size: int = 16) -> int:
    """Set batch-norm moving statistics from data without training (see ``passes/paddle/training.py``): calls in
    training mode update only the moving averages (momentum 0.9, ``models.py``), no weight changes. Returns the
    number of images seen."""
    rng = np.random.RandomState(0)
    seen = 0
    for _ in range(batches):
        batch = images[rng.choice(len(images), size=min(batch_size, len(images)), replace=False)]
        model(batch, training=True)
        seen += len(batch)
    return seen


def train_keras(
    model: Any,
    data: Mapping[str, NDArray[Any]],
    settings: TrainSettings,
    label: str,
    callbacks: list[Any] | None = None,
    task: Mapping[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train on ``x_train`` with the task's loss and a cosine learning rate; per-epoch loss and the task's
    held-out headline score (top-1, mIoU; computed by the task's numpy code, for the report).

    The model outputs logits. ``callbacks`` carry tfmot's ``UpdatePruningStep`` when pruning.
    """
    from recipecc.passes.tf.tasks import hooks
    from recipecc.tasks import TASKS, task_module

    task_params = dict(task or {})
    name = str(task_params.pop("task", "classification")).replace("auto", "classification")
    epochs, lr, batch_size, seed = settings.epochs, settings.lr, settings.batch_size, settings.seed
    optimizer, weight_decay = settings.optimizer, settings.weight_decay
    tf, keras = tf_modules()
    keras.utils.set_random_seed(seed)
    x, y = data["x_train"], data["y_train"]
    if len(x) == 0 or int(np.min(y[:1])) < 0:
        raise PassFailure(f"{label}: training needs labelled data (dataset '{label}' has no labels)")
    steps = (len(x) + batch_size - 1) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, epochs * steps))
    model.compile(
        optimizer=_optimizer(keras, optimizer, schedule, weight_decay),
        loss=hooks(name).loss(keras, **task_params),
    )
    module, headline = task_module(name), TASKS[name].headline
    x_test, y_test = data["x_test"], np.asarray(data["y_test"])
    labelled = len(y_test) > 0 and int(np.min(y_test)) >= 0

    def held_out_score() -> float:
        outputs = np.asarray(model.predict(x_test, batch_size=32, verbose=0))
        if outputs.ndim == 4:  # NHWC maps: the tasks read (N, C, H, W)
            outputs = outputs.transpose(0, 3, 1, 2)
        return float(module.score(module.predictions([outputs]), y_test, **task_params))

    history: list[dict[str, float]] = []
    with progress(label, epochs * steps) as advance:

        class Progress(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                advance(1)

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                logs = logs or {}
                entry = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan")))}
                entry[headline] = held_out_score() if labelled else float("nan")
                history.append(entry)
                advance(0, f"epoch {epoch + 1}: loss {entry['loss']:.3f}, {headline} {entry[headline]:.4f}")

        model.fit(
            _batches(keras, x, y, batch_size, seed),
            epochs=epochs,
            callbacks=[*(callbacks or []), Progress()],
            verbose=0,
        )
    del tf
    return history
