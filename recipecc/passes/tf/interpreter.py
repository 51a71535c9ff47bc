"""One LiteRT interpreter on a ``.tflite`` file: float arrays in, float outputs out, whatever its I/O types are.

``ai_edge_litert.interpreter.Interpreter`` (``tf.lite.Interpreter`` is deprecated and gives identical outputs).
``delegate: xnnpack`` is LiteRT's default (the XNNPACK delegate takes every op it supports, fp32 and int8);
``none`` uses ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``, TFLite's own optimised kernels. Integer-I/O models get their
inputs quantized and outputs dequantized with the tensors' own scale and zero-point, as an application has to.
The benchmark (``bench/runners/tflite.py``) and the calibration search (``passes/tf/calibration.py``) both run
models through it, so the search scores candidates with the engine the report later measures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassFailure
from recipecc.passes.quiet import quiet_native_stderr

__all__ = ["TFLiteModel"]


class TFLiteModel:
    """One interpreter: float arrays in, float outputs out, whatever the model's I/O types are."""

    def __init__(self, path: Path, threads: int, delegate: str, batch_size: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.AUTO if delegate == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            # the delegate is applied, and announces itself on stderr, when the tensors are allocated
            with quiet_native_stderr():
                self.interpreter = Interpreter(
                    model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver
                )
                self.input = self.interpreter.get_input_details()[0]
                if batch_size != int(self.input["shape"][0]):
                    shape = [batch_size, *(int(d) for d in self.input["shape"][1:])]
                    self.interpreter.resize_tensor_input(self.input["index"], shape)
                self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise PassFailure(f"the LiteRT interpreter cannot load {path.name}: {exc}") from exc
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_details = self.interpreter.get_input_details()
        self.output_details = self.interpreter.get_output_details()

    @property
    def input_names(self) -> list[str]:
        return [str(d["name"]) for d in self.input_details]

    @property
    def output_names(self) -> list[str]:
        return [str(d["name"]) for d in self.output_details]

    @property
    def input_shape(self) -> list[int]:
        return [int(d) for d in self.input["shape"]]

    def delegation(self) -> dict[str, Any]:
        """Which of the model's ops the delegate took over, read from the interpreter's graph after allocation.

        The delegate appends one ``DELEGATE`` node per partition it replaced; a partition is closed (every tensor
        inside it is produced inside it), so its ops are those reached walking back from its outputs until its
        inputs. The rest run on TFLite's own kernels, with a copy in and out of the delegate at each border: an
        int8 model whose convolutions stayed outside XNNPACK would be slow for that reason, not for its kernels.
        """
        graph = self.interpreter._interpreter  # the pybind wrapper: the public API does not list nodes
        names = [str(graph.NodeName(i)) for i in range(graph.NumNodes())]
        delegates = [i for i, name in enumerate(names) if name == "DELEGATE"]
        ops = [i for i, name in enumerate(names) if name != "DELEGATE"]
        producer = {int(t): i for i in ops for t in graph.NodeOutputs(i)}
        inside: set[int] = set()
        for node in delegates:
            border = {int(t) for t in graph.NodeInputs(node)}
            todo = [int(t) for t in graph.NodeOutputs(node)]
            while todo:
                tensor = todo.pop()
                op = producer.get(tensor)
                if tensor in border or op is None or op in inside:
                    continue
                inside.add(op)
                todo.extend(int(t) for t in graph.NodeInputs(op) if int(t) >= 0)
        outside: dict[str, int] = {}
        for op in ops:
            if op not in inside:
                outside[names[op]] = outside.get(names[op], 0) + 1
        return {"ops": len(ops), "delegated": len(inside), "partitions": len(delegates), "not_delegated": outside}

    def quantize(self, images: NDArray[Any], detail: dict[str, Any] | None = None) -> NDArray[Any]:
        """The input tensor's values for float ``images`` (int8/uint8 I/O: with the tensor's scale/zero-point)."""
        detail = detail or self.input
        dtype = detail["dtype"]
        scale, zero = detail["quantization"]
        if np.issubdtype(dtype, np.integer) and scale:
            info = np.iinfo(dtype)
            quantized: NDArray[Any] = np.clip(np.round(images / scale + zero), info.min, info.max).astype(dtype)
            return quantized
        return np.asarray(images, dtype=dtype)

    def dequantize(self, values: NDArray[Any], detail: dict[str, Any] | None = None) -> NDArray[Any]:
        detail = detail or self.output
        scale, zero = detail["quantization"]
        if np.issubdtype(detail["dtype"], np.integer) and scale:
            return np.asarray((values.astype(np.float32) - zero) * scale, dtype=np.float32)
        return np.asarray(values, dtype=np.float32)

    def __call__(self, images: NDArray[Any]) -> NDArray[Any]:
        """The first output for a batch of images (single-input models)."""
        return self.run({self.input_names[0]: images})[0]

    def run(self, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
        """Every output, dequantized, for inputs given by name."""
        for detail in self.input_details:
            self.interpreter.set_tensor(detail["index"], self.quantize(feeds[str(detail["name"])], detail))
        self.interpreter.invoke()
        return [self.dequantize(self.interpreter.get_tensor(d["index"]), d) for d in self.output_details]
