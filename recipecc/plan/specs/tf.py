"""TensorFlow / TFLite backend passes (tf_keras, tensorflow-model-optimization, TFLite converter, LiteRT).

They run in the tf worker process, which sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported.
"""

from __future__ import annotations

from recipecc.plan.spec import PassSpec

_TOOLS = ("tensorflow", "tf-keras", "numpy")
_TFMOT = (*_TOOLS, "tensorflow-model-optimization")

SPECS = (
    PassSpec(
        "tf.train",
        "tf",
        "recipecc.passes.tf.train:run",
        "keras",
        "Build the architecture in Keras (tf_keras, no pretrained weights) and train it on NHWC data",
        _TOOLS,
        version=2,  # 2: DeepLabv3's image-pooling branch upsamples bilinearly (XNNPACK delegates it)
    ),
    PassSpec(
        "tf.load",
        "tf",
        "recipecc.passes.tf.load:run",
        "keras | savedmodel | tflite",
        "Copy a user's SavedModel directory, .keras/.h5 or .tflite file into the cache and read its input shape",
        (*_TOOLS, "ai-edge-litert"),
    ),
    PassSpec(
        "tf.prune",
        "tf",
        "recipecc.passes.tf.prune:run",
        "keras",
        "Magnitude pruning (tfmot prune_low_magnitude, constant / polynomial schedule or N:M blocks) during a "
        "finetune, then strip_pruning; records the sparsity reached per layer",
        _TFMOT,
    ),
    PassSpec(
        "tf.convert",
        "tf",
        "recipecc.passes.tf.convert:run",
        "tflite",
        "TFLite converter: fp32, fp16 weights, dynamic-range int8, or full int8 calibrated on training data",
        _TOOLS,
    ),
    PassSpec(
        "tf.quantize_file",
        "tf",
        "recipecc.passes.tf.quantize_file:run",
        "tflite",
        "ai-edge-quantizer on a .tflite file: static int8 (min/max, percentile or MSE ranges, or the calibration "
        "search), dynamic or weight-only int8; old operator codes, float16 / sparse weights, standalone activations "
        "and a missing signature are fixed first",
        ("ai-edge-quantizer", "ai-edge-litert", "numpy"),
        version=5,  # 2: what sparse weights held (prepared.sparse_weights); 3: static int8 weights stored sparse again;
        # 4: no duplicate quantization parameters on the sparse copies, their bytes recorded; 5: standalone RELUs
        # fused into their producers (XNNPACK has no int8 RELU), calibration algo (percentile, mse, the search)
    ),
    PassSpec(
        "tf.qat",
        "tf",
        "recipecc.passes.tf.qat:run",
        "tflite",
        "Quantization-aware training (tfmot quantize_model), converted to an int8 .tflite",
        _TFMOT,
    ),
    PassSpec(
        "tf.bench",
        "tf",
        "recipecc.bench.runners.tflite:run",
        "benchmark",
        "The task's metric / fidelity on the held-out split, size (plain and gzipped), latency median/p90 per "
        "thread count (LiteRT interpreter, XNNPACK; every input and output)",
        ("ai-edge-litert", "numpy"),
        version=4,  # 3: CPU time / share per latency row, XNNPACK delegation; 4: evaluation.io
    ),
)
