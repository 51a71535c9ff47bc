"""ONNX backend passes: they import onnx / onnxruntime and run only in the onnx worker process."""
