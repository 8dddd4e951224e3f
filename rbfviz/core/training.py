"""What a training run takes and gives: :class:`TrainConfig` (every setting, the paper's
defaults), :class:`EpochStats` and :class:`ManyEpochStats` (the progress reports of
:func:`rbfviz.core.train.train` and :func:`rbfviz.core.train.train_many`, in the
:mod:`rbfviz.core.progress` protocol) and :class:`TrainResult`.

Examples
--------
>>> TrainConfig().expected_epochs(), TrainConfig(max_epochs=5).should_compile(100_000)
(54, False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rbfviz.core.model import RBFN
from rbfviz.core.optim import PlateauSchedule

# On a 2-core CPU torch.compile costs ~10-25 s the first time (~3 s once its on-disk cache holds the
# graph, nothing for a second run in the same process) and makes an epoch 2-3.5x faster than eager
# (K = 128 ... 4096); "auto" compiles when the run is expected to see at least this many
# (row × epoch) passes.
AUTO_COMPILE_ROW_EPOCHS = 2_000_000
# On the CPU a compiled call runs this many consecutive minibatch steps (gradient and Adam):
# the interpreter's and dispatcher's cost is paid once per call, not once per operation.
FUSED_STEPS = 8
# ... on at most this many threads (0: torch's setting).  Measured at K = 1024 on the 2-core
# machine: 107 µs a step on two threads, 131 on one; with one busy process beside it, 317 on two
# (each step has five OpenMP fork-joins, and each waits for a descheduled thread) and 133 on one.
# A shared machine does better with 1.
FUSED_STEP_THREADS = 0


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; the defaults are the paper's (§3)."""

    learning_rate: float = 1e-2  # initial Adam step size
    batch_size: int = 64  # minibatch size
    weight_decay: float = 1e-5  # L2 on α, β, Θ and log γ
    lr_factor: float = 0.1  # multiplier at each plateau
    patience: int = 10  # epochs without validation improvement before a reduction
    cooldown: int = 10  # epochs after a reduction before monitoring resumes
    min_lr: float = 1e-4  # stop once the rate falls below this
    max_epochs: int | None = None  # hard cap; None lets the schedule decide
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    seed: int = 0  # initialisation and shuffling
    eval_batch_size: int = 16384  # validation batch (only affects speed and memory)
    standardize_targets: bool = True  # train on (y − mean)/std; the model keeps mean and std
    compile: bool | str = "auto"  # torch.compile the training step (CPU: FUSED_STEPS minibatch steps,
    #   gradient and Adam, per call; ~10-25 s once, then 2-3.5x faster epochs); "auto": when the run
    #   is long enough to pay for it (≥ AUTO_COMPILE_ROW_EPOCHS rows × expected epochs)
    graph: bool | str = "auto"  # capture each epoch as one CUDA graph ("auto": on CUDA; CPU: eager)
    tf32: bool = False  # CUDA: TF32 matrix products (faster; ~1e-3 relative rounding of the products)

    def __post_init__(self):
        checks = [
            ("learning_rate", self.learning_rate > 0),
            ("batch_size", self.batch_size >= 1),
            ("weight_decay", self.weight_decay >= 0),
            ("lr_factor", 0 < self.lr_factor < 1),
            ("patience", self.patience >= 0),
            ("cooldown", self.cooldown >= 0),
            ("min_lr", self.min_lr > 0),
            ("max_epochs", self.max_epochs is None or self.max_epochs >= 1),
            ("device", self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:")),
            ("eval_batch_size", self.eval_batch_size >= 1),
            ("compile", self.compile in (True, False, "auto")),
            ("graph", self.graph in (True, False, "auto")),
            ("tf32", isinstance(self.tf32, bool)),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"TrainConfig.{name} is out of range; got {getattr(self, name)!r}")

    def schedule(self) -> PlateauSchedule:
        """A fresh plateau schedule with these settings."""
        return PlateauSchedule(
            lr=self.learning_rate,
            factor=self.lr_factor,
            patience=self.patience,
            cooldown=self.cooldown,
            min_lr=self.min_lr,
        )

    def expected_epochs(self) -> int:
        """The epochs a run is expected to take: ``max_epochs``, or else the shortest run the
        schedule allows (each reduction after ``patience + 1`` bad epochs, then the cool-down)."""
        need = self.schedule().reductions_needed
        shortest = need * (self.patience + 1) + (need - 1) * self.cooldown + 1
        return shortest if self.max_epochs is None else min(self.max_epochs, shortest)

    def should_compile(self, num_rows: int) -> bool:
        """Whether ``compile`` ("auto": the run is long enough to pay for compiling) asks for it."""
        if self.compile != "auto":
            return bool(self.compile)
        return self.expected_epochs() * num_rows >= AUTO_COMPILE_ROW_EPOCHS


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EpochStats:
    """What the progress callback receives after every epoch (MSEs in standardised units)."""

    epoch: int
    train_mse: float
    val_mse: float
    lr: float
    elapsed: float  # seconds since the start of training
    improved: bool = False
    fraction: float = 0.0  # estimate of the run's work done: epochs over max_epochs or the schedule's

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for a status bar."""
        return (
            f"epoch {self.epoch}: train MSE {self.train_mse:.4g}, val MSE {self.val_mse:.4g}, "
            f"lr {self.lr:.0e} ({self.elapsed:.1f} s)"
        )


@dataclass
class TrainResult:
    """The best network (by validation MSE) and the run's record."""

    model: RBFN
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = -1
    best_val_mse: float = float("inf")
    cancelled: bool = False
    device: str = "cpu"
    seconds: float = 0.0
    compiled: bool = False  # whether the step ran compiled
    compile_seconds: float = 0.0  # of ``seconds``, the time spent compiling (before the first epoch)
    graph: bool = False  # whether each epoch ran as a CUDA graph


@dataclass(frozen=True)
class ManyEpochStats:
    """What :func:`train_many`'s progress callback receives after every epoch."""

    epoch: int
    stats: tuple  # the epoch's EpochStats of every network, None for those already stopped
    active: int  # networks still training after this epoch
    elapsed: float
    fraction: float  # the mean of the networks' fractions

    def describe(self) -> str:
        vals = [s.val_mse for s in self.stats if s is not None]
        best = f", best val MSE {min(vals):.4g}" if vals else ""
        return f"epoch {self.epoch}: {self.active}/{len(self.stats)} networks training{best} ({self.elapsed:.1f} s)"
