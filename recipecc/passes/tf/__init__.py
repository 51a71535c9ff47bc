"""TensorFlow / TFLite backend passes: Keras models, tfmot pruning and QAT, the TFLite converter.

Everything here runs in the "tf" worker process (``recipecc/worker.py``), which sets ``TF_USE_LEGACY_KERAS=1``
before TensorFlow is imported: tensorflow-model-optimization 0.8 works only with Keras 2 (``tf_keras``).
Never import paddle here: TensorFlow and Paddle in one process segfault.
"""
