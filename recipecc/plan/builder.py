"""Building blocks the backend pipelines share: adding nodes with their cache keys, the dataset node, bench nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from recipecc.plan.cache import cache_key, fingerprint_path, tool_versions
from recipecc.plan.data_detection import DETECTION_DATASETS, detection_params
from recipecc.plan.data_segmentation import SEGMENTATION_DATASETS, segmentation_params
from recipecc.plan.graph import Check, PlanNode
from recipecc.plan.measurement import measurement_params
from recipecc.plan.registry import PASSES
from recipecc.recipe.anchors import anchor_choice
from recipecc.recipe.catalog import ARCHITECTURES
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig
from recipecc.recipe.targets import ResolvedTarget, resolve_target
from recipecc.tasks import TASKS

__all__ = ["TRAINING_PASSES", "PlanBuilder", "Stage"]

#: the random augmentation a detector's training gets (``passes/paddle/tasks/detection.py:augment``)
DETECTION_AUGMENTATIONS = ("hflip",)
#: a detector's training makes every anchor whose IoU with a box exceeds this responsible for it, not only the best
#: one (PaddleDetection's ``Gt2YoloTarget(iou_thresh=0.25)``, as PP-YOLO; ``passes/paddle/yolov3.py:yolo_loss``)
DETECTION_ASSIGN_IOU = 0.25

#: passes that train a model on the dataset after the baseline was made (finetune, QAT, tfmot pruning)
TRAINING_PASSES = ("paddle.finetune", "paddle.qat", "tf.prune", "tf.qat")


@dataclass(frozen=True)
class Stage:
    """A model stage the report compares: its name, the node producing the deployable model, its precision."""

    name: str
    node: str
    precision: str


@dataclass
class PlanBuilder:
    recipe: RecipeConfig
    nodes: list[PlanNode] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    #: strategy sections (prune, sensitivity, quant, search) some node carries out; the planner refuses a recipe
    #: that sets a section no node carries (``requirements.check_strategy_carried``)
    carried: set[str] = field(default_factory=set)
    #: stages whose quality cannot be measured in this run, and why (the plan and the report say so)
    unmeasurable: dict[str, str] = field(default_factory=dict)
    #: the target resolved (device, runtime, abi, measurer); resolved from the recipe when not given
    target: ResolvedTarget | None = None

    @property
    def resolved_target(self) -> ResolvedTarget:
        if self.target is None:
            self.target = resolve_target(self.recipe.target)
        return self.target

    def add(
        self,
        node_id: str,
        pass_name: str,
        params: Mapping[str, Any],
        inputs: Mapping[str, str] | None = None,
        stage: str | None = None,
        optional: bool = False,
        carries: str | None = None,
    ) -> str:
        """Add a node (its key hashes the pass, its parameters, its inputs' keys and its tools' versions).

        ``carries`` names the strategy section this node carries out (``prune``, ``quant``, ...)."""
        if node_id in self.keys:
            raise ValueError(f"plan node '{node_id}' added twice")
        spec = PASSES[pass_name]
        inputs = dict(inputs or {})
        key = cache_key(
            pass_name,
            spec.version,
            params,
            {name: self.keys[src] for name, src in inputs.items()},
            tool_versions(spec.tools),
        )
        self.keys[node_id] = key
        if carries is not None:
            self.carried.add(carries)
        self.nodes.append(PlanNode(node_id, pass_name, dict(params), inputs, key, stage, optional))
        return node_id

    def check(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    def dataset(self, layout: str, channels: int = 1, image_size: int | None = None) -> str:
        """The dataset node, materialising the recipe's data once in ``layout`` (NCHW or NHWC).

        ``channels`` (digits only): 3 replicates the grey scans for models that take colour images;
        ``image_size`` (digits only): the side a model file fixes, instead of ``dataset.image_size``.
        """
        data = self.recipe.dataset
        if data.name in SEGMENTATION_DATASETS:
            return self.add("data", "data.segmentation", segmentation_params(self, layout))
        if data.name in DETECTION_DATASETS:
            return self.add("data", "data.detection", detection_params(self, layout, self.input_size))
        params: dict[str, Any] = {"name": data.name, "seed": data.seed, "layout": layout}
        model = self.recipe.model
        if data.name == "digits":
            image_size = model.input_size or image_size or data.image_size
            params |= {"image_size": image_size, "test_fraction": data.test_fraction}
            if channels != 1:
                params["channels"] = channels
            if data.max_images is not None:
                params["max_images"] = data.max_images
        else:
            params |= {
                "size": [model.input_size, model.input_size] if model.input_size else data.size,
                "mean": data.mean,
                "std": data.std,
                "scale": data.scale,
                "color": data.color,
                "calibration_images": data.calibration_images,
                "eval_images": data.eval_images,
            }
        if data.root:
            params["root"] = data.root
            params["root_fingerprint"] = fingerprint_path(data.root)
        if data.name == "image_folder" and self.recipe.model.arch == "file":
            self.check(
                "labels",
                "warn",
                "if dataset.root's sub-folders name classes, top-1 assumes the model's class i is the i-th "
                "sub-folder in sorted order (ImageFolder convention); fidelity metrics do not depend on it",
            )
        return self.add("data", f"data.{data.name}", params)

    @property
    def task(self) -> str:
        """The recipe's task (``recipecc/tasks``): ``model.task``, else the architecture's, else for a file
        ``classification`` on the digits and ``auto`` (decided by the data's labels at run time) elsewhere."""
        model = self.recipe.model
        if model.task is not None:
            return model.task
        if model.arch != "file":
            return ARCHITECTURES[model.arch].task
        return "classification" if self.recipe.dataset.name == "digits" else "auto"

    @property
    def input_size(self) -> int:
        """The square input of a detector: ``model.input_size``, else its reference 608 (YOLOv3), else the file's."""
        model = self.recipe.model
        if model.input_size is not None:
            return int(model.input_size)
        if model.arch == "file" and model.input_shape:
            return int(model.input_shape[-1])
        return 608

    def task_params(self) -> dict[str, Any]:
        """What evaluation passes need to know about the task (every bench node, sensitivity, training)."""
        model, data = self.recipe.model, self.recipe.dataset
        params: dict[str, Any] = {"task": self.task}
        if self.task == "segmentation":
            params |= {"num_classes": model.num_classes, "ignore_index": data.ignore_index}
        if self.task == "detection":
            from recipecc.metrics.yolo import ANCHORS_FROM_DATA, yolov3_decoder_spec

            choice = anchor_choice(model)
            anchors = ANCHORS_FROM_DATA if choice.source == "fitted" else choice.pairs
            params |= {
                "num_classes": model.num_classes,
                "decoder": yolov3_decoder_spec(self.input_size, anchors),
                "augment": list(DETECTION_AUGMENTATIONS),
                "assign_iou": DETECTION_ASSIGN_IOU,
            }
        elif model.anchors != "auto":
            raise RecipeError(
                f"model.anchors is set, but the model is a {self.task} model: only a detector has anchors",
                key="model.anchors",
                value=model.anchors,
                valid="auto (leave it unset) for this model",
            )
        if model.threshold is not None:
            params["threshold"] = model.threshold
        if model.outputs:
            params["outputs"] = dict(model.outputs)
        return params

    def check_task_data(self) -> None:
        """The dataset must label what the task predicts (mIoU needs label maps, not class labels)."""
        task = TASKS.get(self.task)
        data = self.recipe.dataset.name
        if self.recipe.model.outputs and self.task in ("detection", "segmentation"):
            raise RecipeError(
                f"model.outputs declares output kinds, but a {self.task} model's outputs are decoded by its task "
                "(boxes, label maps), not compared by kind",
                key="model.outputs",
                value=dict(self.recipe.model.outputs),
                valid="no model.outputs for detection and segmentation models",
            )
        if task is None or not task.datasets or data in task.datasets:
            return
        labelled_by = next((t.name for t in TASKS.values() if data in t.datasets), None)
        if data == "image_folder":  # unlabelled folders serve every task (fidelity against the baseline)
            self.check("labels", "ok", f"image folder: a {task.name} model is compared with its baseline's outputs")
            return
        if labelled_by is not None and labelled_by != task.name:
            raise RecipeError(
                f"dataset '{data}' labels {labelled_by}, but the model is a {task.name} model "
                f"({self.recipe.model.arch})",
                key="dataset",
                value=data,
                valid=f"a {task.name} dataset: {', '.join(task.datasets)}",
            )

    def labels_score_model(self) -> bool:
        """Whether the dataset's labels can score the model: not for an untrained network, nor for a head whose
        classes are not the dataset's (an ImageNet head on digits); fidelity against the baseline is used then."""
        model, data = self.recipe.model, self.recipe.dataset
        untrained = model.arch != "file" and model.path is None and model.train.epochs == 0
        foreign_head = data.name == "digits" and model.num_classes != 10
        return not (untrained or foreign_head)

    def untrained_baseline(self) -> bool:
        """A network built here with random weights (no ``model.path``, ``model.train.epochs=0``)."""
        model = self.recipe.model
        return model.arch != "file" and model.path is None and model.train.epochs == 0

    def _trained_by(self, node_id: str) -> str | None:
        """The training pass ``node_id``'s model went through after the baseline, if any."""
        by_id = {node.id: node for node in self.nodes}
        frontier, seen = [node_id], set()
        while frontier:
            node = by_id[frontier.pop()]
            if node.pass_name in TRAINING_PASSES:
                return node.pass_name
            seen.add(node.id)
            frontier += [src for name, src in node.inputs.items() if name != "data" and src not in seen]
        return None

    def bench(self, stage: Stage, pass_name: str, data: str, optional: bool = False, **extra: Any) -> str:
        """A benchmark node for ``stage``; every stage after the first is compared with the first's outputs."""
        bench = self.recipe.bench
        params: dict[str, Any] = {
            "stage": stage.name,
            "precision": stage.precision,
            "runtime": self.recipe.target.runtime,
            "threads": list(self.recipe.target.threads),
            "warmup": bench.warmup,
            "repeats": bench.repeats,
            "batch_size": bench.batch_size,
            "metrics": list(bench.metrics),
            "labels": self.labels_score_model(),
            **self.task_params(),
            **extra,
        }
        trained_by = self._trained_by(stage.node) if self.untrained_baseline() else None
        if trained_by is not None:
            self.unmeasurable[stage.name] = (
                f"the baseline is untrained (random weights) and this stage was trained on the data ({trained_by}): "
                "agreement with the baseline measures nothing"
            )
        params |= measurement_params(self.resolved_target, self.recipe.target.ssh)
        if self.resolved_target.measurer == "estimated":
            params["arch"] = self.recipe.model.arch
        inputs = {"model": stage.node, "data": data}
        first = next((n for n in self.nodes if n.stage is not None), None)
        if first is not None:
            inputs["reference"] = first.id
        conversion = self.resolved_target.runtime.conversion
        if conversion is not None:
            self.add(
                f"deploy.{stage.name}",
                "deploy.convert",
                {"runtime": self.resolved_target.runtime.name, "stage": stage.name, **asdict(conversion)},
                {"model": stage.node},
                optional=True,
            )
        return self.add(f"bench.{stage.name}", pass_name, params, inputs, stage=stage.name, optional=optional)
