"""``tf.qat``: quantization-aware training (tfmot ``quantize_model``), then conversion to an int8 ``.tflite``.

Fake-quant nodes learn the activation ranges during a short training at a low learning rate, so no
representative dataset is needed at conversion. A pruned model is trained with tfmot's prune-preserving scheme
(``Default8BitPrunePreserveQuantizeScheme``), so its zeros survive; the sparsity is measured again afterwards.
Only for Keras models (the pipeline's own, or a user's ``.keras``/``.h5``): QAT trains, and needs labelled data.
"""

from __future__ import annotations

from typing import Any

from recipecc.passes.base import PassContext, PassFailure, TrainSettings, read_artifact, task_of
from recipecc.passes.data.arrays import load_split
from recipecc.passes.tf.common import count_params, load_keras, train_keras
from recipecc.passes.tf.convert import check_input_shape, to_tflite, write_tflite
from recipecc.passes.tf.prune import kernel_sparsity_of

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    import tensorflow_model_optimization as tfmot

    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    if meta["format"] != "keras":
        raise PassFailure(f"QAT needs a Keras model, not '{meta['format']}'")
    data = load_split(ctx.input("data"))
    model = load_keras(model_dir / meta["model_files"][0], trusted=bool(meta.get("trusted")))
    check_input_shape(list(model.input_shape), list(data["x_train"].shape[1:]), "the model")
    pruned = meta.get("sparsity")
    try:
        if pruned:  # keep the zeros: tfmot's prune-preserving QAT scheme (PQAT) masks them during training
            quant = tfmot.quantization.keras
            scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
            annotated = quant.quantize_apply(quant.quantize_annotate_model(model), scheme)
        else:
            annotated = tfmot.quantization.keras.quantize_model(model)
    except Exception as exc:
        raise PassFailure(f"tfmot quantize_model cannot handle this model ({type(exc).__name__}: {exc})") from exc
    settings = TrainSettings.from_params(p, optimizer="adam", weight_decay=0.0)
    history = train_keras(annotated, data, settings, "quantization-aware training", task=task_of(p))
    flatbuffer, facts = to_tflite(annotated, "qat", io_type=str(p["io_type"]))
    carried: dict[str, Any] = {k: meta[k] for k in ("selector_matches", "input_shape") if k in meta}
    if pruned:  # measured again after training, on the wrapped layers' float kernels
        inner = {layer.layer.name: layer for layer in annotated.layers if hasattr(layer, "layer")}  # QAT wrappers
        names = [name for name in pruned["layers"] if name in inner]
        facts["conversion"] = "TFLite int8 from prune-preserving QAT (tfmot Default8BitPrunePreserveQuantizeScheme)"
        carried["sparsity"] = {**pruned, **kernel_sparsity_of(inner, names), "preserved_by": "tfmot PQAT"}
    return {
        **carried,
        **write_tflite(flatbuffer, ctx.out_dir, facts, "int8"),
        "params": count_params(model),
        "history": history,
        "qat": {"epochs": int(p["epochs"]), "lr": float(p["lr"]), "optimizer": "adam"},
    }
