"""Notebook 06, from one layer to an MLP: 2-D data, small MLPs, decision boundaries, checks.

§3 and §5 use :func:`toy_data`, :func:`build_mlp`, :func:`train_classifier`, :func:`decision_grid`
and :func:`decision_boundary`; §6 :func:`build_demo`; §7 the ``check_*`` functions.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Sequence

import contourpy
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from utils import threads, tr
from utils._validate import require_axes, require_int, require_real
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, expect_tensor, passed, without
from utils.widgets import blit_png, choice_slider, dropdown, int_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = ("DATASET_LABELS", "HINTS")

# --- data and models ----------------------------------------------------------------------------


def toy_data(kind: str = "moons", n_samples: int = 200, *, noise: float = 0.1, seed: int = 0):
    """``(X, y)``, two seeded classes in the plane: ``"moons"``, two interleaving half circles
    (§3, §5), or ``"spirals"`` of 1.25 turns (§6). The global RNG is left alone.

    >>> X, y = toy_data("moons", 6, noise=0.0)
    >>> X.shape, y.dtype, int(y.sum())
    (torch.Size([6, 2]), torch.int64, 3)
    """
    generator = torch.Generator().manual_seed(seed)
    y = (torch.arange(require_int(n_samples, name="n_samples")) >= n_samples // 2).long()
    t = torch.rand(n_samples, generator=generator)
    if kind == "moons":  # class 1 is class 0's half circle turned over and moved by (1, 0.5)
        X = torch.stack([torch.cos(math.pi * t), torch.sin(math.pi * t)], dim=1)
        X[y == 1] = torch.tensor([1.0, 0.5]) - X[y == 1]
    else:  # the radius √t is uniform over an arm's area; class 1 is class 0 turned by π
        angle = 2.5 * math.pi * t.sqrt() + math.pi * y
        X = t.sqrt()[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    X += require_real(noise, low=0.0, name="noise") * torch.randn(X.shape, generator=generator)
    order = torch.randperm(n_samples, generator=generator)
    return X[order], y[order]


def build_mlp(in_features=2, width=16, depth=1, out_features=2, *, dropout=0.0) -> nn.Sequential:
    """``depth`` blocks ``Linear → ReLU (→ Dropout)``, then a ``Linear``; seed the RNG first.

    >>> [type(m).__name__ for m in build_mlp(2, 8, 2, dropout=0.1)]
    ['Linear', 'ReLU', 'Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear']
    """
    layers: list[nn.Module] = []
    for size in [in_features] + [width] * (require_int(depth, name="depth") - 1):
        layers += [nn.Linear(size, width), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, nn.Linear(width, out_features))


# --- training -------------------------------------------------------------------------------------


#: What :func:`train_classifier` records (one entry per evaluation; ``val_*`` None without ``val``)
ClassifierRun = namedtuple("ClassifierRun", "steps train_loss train_acc val_loss val_acc seconds")


class ClassifierTraining:
    """:func:`train_classifier` in resumable pieces: ``train_to(steps)`` trains on from the step
    reached so far, so training to 100 steps and later on to 300 leaves the model, the optimizer
    and the records exactly as training to 300 at once would (tested).

    With ``own_rng=True`` the training keeps its own copy of the global RNG state, taken when it
    is made: the dropout masks then continue one stream, whatever draws random numbers between
    two calls. Without it, dropout draws from the global RNG as it is at each call.

    >>> X, y = toy_data("moons", 100, seed=1)
    >>> _ = torch.manual_seed(0)
    >>> training = ClassifierTraining(build_mlp(width=16), X, y, lr=0.02, eval_every=50)
    >>> training.train_to(100), training.train_to(300), training.train_to(200)  # steps trained
    (100, 200, 0)
    >>> training.run().steps.tolist()
    [0, 50, 100, 150, 200, 250, 300]
    """

    def __init__(
        self,
        model,
        X,
        y,
        *,
        lr=0.01,
        weight_decay=0.0,
        val=None,
        eval_every=10,
        on_record=None,
        own_rng=False,
    ) -> None:
        self.model, self.X, self.y, self.on_record = model, X, y, on_record
        self.eval_every = require_int(eval_every, name="eval_every")
        # fused=True: one kernel per step for all parameters, ~1.5× faster for these tiny models
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=lr, weight_decay=weight_decay, fused=True
        )
        sets = [(X, y)] if val is None else [(X, y), tuple(val)]
        # A record is one forward pass over every set at once; its losses and accuracies are
        # worked out later, for all pending records together (run()).
        self._inputs, self._labels = (torch.cat(parts) for parts in zip(*sets, strict=True))
        self._sizes = [len(labels) for _, labels in sets]
        self.rng_state = torch.get_rng_state() if own_rng else None
        self.step, self.seconds = 0, 0.0  # steps trained so far, and the time they took
        self._steps_seen: list[int] = []
        self._pending: list[torch.Tensor] = []  # logits of the records not yet in _table
        self._table = torch.empty(0, 2 * len(sets))  # per record: loss, accuracy per set
        self._run: ClassifierRun | None = None

    def _record(self, step: int) -> None:
        model = self.model
        model.eval()  # dropout off, and no random numbers drawn: the training stream is unchanged
        with torch.no_grad():
            self._pending.append(model(self._inputs))
        model.train()
        self._steps_seen.append(step)
        if self.on_record is not None:
            self.on_record(step, model)

    def train_to(self, steps: int) -> int:
        """Train on up to step ``steps`` (evaluating every ``eval_every`` steps and at ``steps``);
        return how many steps that took: 0 if the training is there already."""
        steps = require_int(steps, name="steps", low=0)
        if self._steps_seen and steps <= self.step:
            return 0
        start, first = time.perf_counter(), self.step
        model, opt, X, y = self.model, self.optimizer, self.X, self.y
        own = self.rng_state is not None
        with threads(1), torch.random.fork_rng(devices=[], enabled=own):  # tiny: 1 thread
            if own:
                torch.set_rng_state(self.rng_state)
            if not self._steps_seen:
                self._record(0)
            elif self.step % self.eval_every:  # the record where it paused is off the grid:
                del self._steps_seen[-1]  # training straight through would not have it
                if self._pending:
                    del self._pending[-1]
                else:
                    self._table = self._table[:-1]
            for step in range(first + 1, steps + 1):
                opt.zero_grad()
                F.cross_entropy(model(X), y).backward()
                opt.step()
                if step % self.eval_every == 0 or step == steps:
                    self._record(step)
            if own:
                self.rng_state = torch.get_rng_state()
        self.step, self._run = steps, None
        self.seconds += time.perf_counter() - start
        return steps - first

    def run(self) -> ClassifierRun:
        """What was recorded so far, as :func:`train_classifier` returns it."""
        if self._pending:  # (records, samples, classes) → per-sample losses and hits per record
            logits, labels = torch.stack(self._pending), self._labels.expand(len(self._pending), -1)
            with threads(1):  # small: on a busy machine a second thread only waits for a core
                losses = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
                hits = (logits.argmax(2) == labels).float()
                parts = zip(losses.split(self._sizes, 1), hits.split(self._sizes, 1), strict=True)
                rows = [torch.stack([los.mean(1), hit.mean(1)], 1) for los, hit in parts]
                self._table = torch.cat([self._table, torch.cat(rows, 1)])
            self._pending = []
        if self._run is None:
            columns = self._table.T  # loss, accuracy[, val_loss, val_accuracy]
            val_columns = (columns[2], columns[3]) if len(columns) > 2 else (None, None)
            steps = torch.tensor(self._steps_seen)
            self._run = ClassifierRun(steps, columns[0], columns[1], *val_columns, self.seconds)
        return self._run


def train_classifier(
    model, X, y, *, steps, lr=0.01, weight_decay=0.0, val=None, eval_every=10, on_record=None
) -> ClassifierRun:
    """Train ``model`` in place: full-batch AdamW (decoupled ``weight_decay``), cross-entropy.

    Every ``eval_every`` steps and after the last, losses and accuracies are measured in eval
    mode on ``(X, y)`` and on ``val = (X_val, y_val)``; then ``on_record(step, model)`` runs.

    >>> X, y = toy_data("moons", 100, seed=1)
    >>> _ = torch.manual_seed(0)
    >>> run = train_classifier(build_mlp(width=16), X, y, steps=300, lr=0.02)
    >>> run.steps[-1].item(), run.train_acc[-1].item() > 0.95
    (300, True)
    """
    steps = require_int(steps, name="steps")
    fit = dict(lr=lr, weight_decay=weight_decay, val=val, eval_every=eval_every)
    training = ClassifierTraining(model, X, y, **fit, on_record=on_record)
    training.train_to(steps)
    return training.run()


def decision_grid(model: nn.Module, *, limits, resolution: int = 100, state=None) -> tuple:
    """``(xs, ys, P)``: ``P[i, j]`` = P(class 1) at ``(xs[j], ys[i])`` in eval mode, over
    ``limits = (x_min, x_max, y_min, y_max)``; ``state`` replaces the model's parameters.

    >>> xs, ys, P = decision_grid(nn.Linear(2, 2), limits=(-1, 1, -1, 1), resolution=5)
    >>> P.shape, bool(((0 <= P) & (P <= 1)).all())
    (torch.Size([5, 5]), True)
    """
    dtype = next(model.parameters(), torch.empty(0)).dtype  # a float64 model gets a float64 grid
    xs = torch.linspace(limits[0], limits[1], resolution, dtype=dtype)
    ys = torch.linspace(limits[2], limits[3], resolution, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
    was_training = model.training
    with torch.no_grad():  # strict: a misspelt parameter name in state is an error
        logits = functional_call(model.eval(), state or {}, points, strict=state is not None)
    model.train(was_training)
    return xs, ys, torch.softmax(logits, dim=1)[:, 1].reshape(resolution, resolution)


# --- plots ----------------------------------------------------------------------------------------

CLASS_COLORS = ("tab:blue", "tab:red")  # class 0, class 1 in the plane plots


def decision_boundary(ax: Axes, xs, ys, probs, X, y, *, units=None, title=None, art=None):
    """Shade ``probs`` (from :func:`decision_grid`), draw the 0.5 boundary, the points ``X``
    (labels ``y``) and the line ``w_j · x + b_j = 0`` of each unit in ``units = (weight, bias)``.
    Given ``art`` (an earlier call's result), update those artists in place instead. §3, §6.

    >>> g = torch.linspace(-1, 1, 20)
    >>> P = torch.sigmoid(4 * g)[None, :].expand(20, 20)  # class 1 on the right
    >>> X, y = torch.tensor([[-0.5, 0.0], [0.5, 0.0]]), torch.tensor([0, 1])
    >>> art = decision_boundary(Figure().add_subplot(), g, g, P, X, y, units=([[1.0, 0.0]], [0.0]))
    >>> [set(segment[:, 0].tolist()) for segment in art["units"].get_segments()]  # x₁ = 0
    [{0.0}]
    """
    if art is None:
        ax = require_axes(ax)
        image = dict(origin="lower", cmap="RdBu_r", vmin=0, vmax=1, alpha=0.45, aspect="auto")
        art = {"ax": ax, "shading": ax.imshow([[0.5]], interpolation="bilinear", **image)}
        art["boundary"] = ax.add_collection(LineCollection([], colors="black", linewidths=1.6))
        art["units"] = ax.add_collection(LineCollection([], colors="0.25", linestyles="--", lw=0.9))
        dots = {"s": 14, "edgecolor": "white", "lw": 0.4, "zorder": 3}
        art["points"] = [
            ax.scatter([], [], color=c, label=f"class {k}", **dots)
            for k, c in enumerate(CLASS_COLORS)
        ]
    xs, ys, P = (np.asarray(v, dtype=float) for v in (xs, ys, probs))
    half_x, half_y = (xs[1] - xs[0]) / 2, (ys[1] - ys[0]) / 2  # grid points are pixel centres
    art["shading"].set_data(P)
    art["shading"].set_extent((xs[0] - half_x, xs[-1] + half_x, ys[0] - half_y, ys[-1] + half_y))
    art["boundary"].set_segments(contourpy.contour_generator(xs, ys, P).lines(0.5))
    W, b = (np.asarray(v, dtype=float) for v in units) if units is not None else ([], [])
    planes = [w[0] * xs + w[1] * ys[:, None] + c for w, c in zip(W, b, strict=True)]
    art["units"].set_segments(
        [s for z in planes for s in contourpy.contour_generator(xs, ys, z).lines(0)]
    )
    for label, points in enumerate(art["points"]):
        points.set_offsets(np.asarray(X)[np.asarray(y) == label])
    art["ax"].set(xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]), xlabel="x₁", ylabel="x₂")
    art["ax"].set_title(title or "decision boundary (P = 0.5)", fontsize=10)
    return art


# --- the §6 demo: one training run per setting, trained as far as the steps slider asks ---------

BOUNDARY_LIMITS = {"moons": (-1.6, 2.6, -1.3, 1.8), "spirals": (-1.4, 1.4, -1.4, 1.4)}
#: What the data-set dropdown shows for each ``toy_data`` kind (English templates for ``tr``).
DATASET_LABELS = {"moons": "moons", "spirals": "spirals"}
WIDTHS = (2, 4, 8, 16, 32, 64)
WEIGHT_DECAYS = (0.0, 0.001, 0.01, 0.1, 0.3, 1.0)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
SNAPSHOT_STEPS = tuple(range(25, 501, 25))  # the steps slider: snapshots of one run
#: Draw the first-layer unit lines only up to this width (more lines hide the picture).
MAX_UNIT_LINES = 16


class BoundaryHistory:
    """One demo setting's seeded run on 80 points (:func:`boundary_history`), trained only as
    far as asked: ``states`` and ``frames`` (P-grids) per snapshot step, ``run`` so far."""

    def __init__(self, X_train, y_train, model, **fit) -> None:
        self.X_train, self.y_train, self.model = X_train, y_train, model
        self.states: dict[int, dict] = {}  # step -> parameters, every 25 steps
        self.frames: dict[int, tuple] = {}  # step -> decision_grid, drawn on first show
        self.training = ClassifierTraining(model, X_train, y_train, **fit, on_record=self._keep)

    def _keep(self, step: int, model: nn.Module) -> None:
        if step in SNAPSHOT_STEPS:
            self.states[step] = {k: v.detach().clone() for k, v in model.named_parameters()}

    def train_to(self, steps: int) -> int:
        """Train on up to ``steps`` if not there yet; return the steps this took (often 0)."""
        return self.training.train_to(steps)

    @property
    def run(self) -> ClassifierRun:
        """The records so far, every 5 steps."""
        return self.training.run()


@functools.lru_cache(maxsize=4)
def _demo_data(dataset: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The demo's 480 points (80 to train on, 400 to validate), one set for every setting."""
    with threads(1):  # 480 points: on a busy machine a second thread only waits for a core
        return toy_data(dataset, 480, noise=0.25 if dataset == "moons" else 0.05, seed=seed)


@functools.lru_cache(maxsize=64)
def boundary_history(width, depth, weight_decay=0.0, dropout=0.0, dataset="moons", seed=0):
    """One seeded MLP per demo setting, trained on 80 points only when asked and only as far as
    asked (``train_to``), keeping a snapshot every 25 steps. Training on from where it stopped
    gives the same as a fresh run of that many steps: evaluating draws no random numbers, and
    the run keeps its own RNG stream for the dropout masks (tested). Cached.

    >>> history = boundary_history.__wrapped__(16, 1)  # a fresh one, not the cached
    >>> history.train_to(100), sorted(history.states)
    (100, [25, 50, 75, 100])
    >>> history.train_to(500), history.run.val_acc[-1].item() > 0.85
    (400, True)
    """
    X, y = _demo_data(dataset, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_mlp(2, width, depth, 2, dropout=dropout)
        fit = dict(lr=0.02, weight_decay=weight_decay, eval_every=5, own_rng=True)
        return BoundaryHistory(X[:80], y[:80], model, val=(X[80:], y[80:]), **fit)


# --- prefetch: train the settings one slider step away while the demo is idle -----------------

#: Held by whoever touches the global torch state for the demo's runs (the RNG that
#: ``boundary_history`` and ``train_to`` fork, the thread count ``threads`` sets): the main
#: thread while it draws, the prefetch worker for one chunk of ``PREFETCH_CHUNK`` steps.
_TORCH_LOCK = threading.RLock()
PREFETCH_CHUNK = 25  # steps per chunk: ~5-8 ms, the longest a key press waits for the worker
#: Prefetch in demos built from now on: None = only under IPython (a kernel), where cells are
#: guarded (:func:`_pause_for_cells`); True/False = always/never (tests).
PREFETCH: bool | None = None
PREFETCH_DELAY = 0.03  # s after a picture before the worker starts (the PNG is sent meanwhile)
_SLIDERS = {"width": WIDTHS, "depth": (1, 2, 3), "weight_decay": WEIGHT_DECAYS, "dropout": DROPOUTS}


class _Prefetch:
    """One daemon worker per demo that trains the neighbouring settings up to the current step
    count in chunks, holding ``_TORCH_LOCK`` per chunk. A new schedule cancels the pending work;
    ``busy`` (the main thread drawing, or a notebook cell running) holds the worker between
    chunks. The thread ends when there is nothing left to do, so an idle demo keeps no thread."""

    busy = threading.Event()  # shared: a running cell pauses every demo's worker

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self.jobs: list[tuple] = []  # (setting, steps), nearest first; at most 8
        self.generation, self.closed, self.thread = 0, False, None
        self.start_at = 0.0

    def schedule(self, jobs: list[tuple]) -> None:
        with self._wake:
            if self.closed:
                return
            self.generation += 1
            self.jobs, self.start_at = list(jobs[:8]), time.monotonic() + PREFETCH_DELAY
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._work, daemon=True, name="nb06-prefetch")
                self.thread.start()
            self._wake.notify()

    def cancel(self) -> None:
        with self._wake:
            self.generation += 1
            self.jobs = []

    def close(self) -> None:
        with self._wake:
            self.closed = True
            self.generation += 1
            self.jobs = []
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while self.jobs and (time.monotonic() < self.start_at or _Prefetch.busy.is_set()):
                    self._wake.wait(max(self.start_at - time.monotonic(), 0.02))
                if not self.jobs or self.closed:
                    self.thread = None
                    return
                generation, (setting, steps) = self.generation, self.jobs[0]
            with _TORCH_LOCK:  # one chunk; the main thread waits at most this long
                if generation != self.generation or _Prefetch.busy.is_set():
                    continue
                history = boundary_history(*setting)
                target = min(steps, history.training.step + PREFETCH_CHUNK)
                history.train_to(target)
            with self._wake:
                if generation == self.generation and target >= steps and self.jobs:
                    self.jobs.pop(0)


def _neighbours(values: dict, before: dict | None) -> list[tuple]:
    """The settings one slider step away from ``values``, the slider moved last (in the
    direction it moved) first; each as the ``boundary_history`` arguments."""
    moved = next((n for n in _SLIDERS if before and values[n] != before.get(n)), None)
    order = sorted(_SLIDERS, key=lambda name: name != moved)
    found = []
    for name in order:
        options, index = _SLIDERS[name], _SLIDERS[name].index(values[name])
        steps = (1, -1)
        if name == moved and _SLIDERS[name].index(before[name]) > index:
            steps = (-1, 1)
        for step in steps:
            if 0 <= index + step < len(options):
                setting = {**values, name: options[index + step]}
                names = ("width", "depth", "weight_decay", "dropout", "dataset")
                found.append(tuple(setting[k] for k in names))
    return found


def _pause_for_cells() -> bool:
    """While a notebook cell runs, the workers start no chunk, and the cell waits for the
    running chunk to end: the cell's random numbers and thread count are its own. False
    outside IPython, where nothing guards the caller's code against a worker's chunk."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if getattr(shell, "_nb06_prefetch_hooks", False):
        return True

    def pre(*_args: object) -> None:
        _Prefetch.busy.set()
        with _TORCH_LOCK:
            pass

    shell.events.register("pre_run_cell", pre)
    shell.events.register("post_run_cell", lambda *_args: _Prefetch.busy.clear())
    shell._nb06_prefetch_hooks = True
    return True


def draw_decision_boundary(fig, width, depth, weight_decay, dropout, steps, dataset="moons"):
    """Draw one snapshot on ``fig`` (artists made on first use, then updated); return a readout.
    The setting's run is trained on first if it has not reached ``steps`` yet."""
    with _TORCH_LOCK:  # a prefetch chunk ends first; no chunk runs meanwhile
        history = boundary_history(width, depth, weight_decay, dropout, dataset)
        start, seconds = history.training.step, history.training.seconds
        trained = history.train_to(steps)
        seconds = history.training.seconds - seconds
    if not trained:
        how = tr("a snapshot of a run trained before")
    elif start == 0:
        how = tr("trained for {steps} steps in {seconds:.2f} s", steps=steps, seconds=seconds)
    else:
        how = tr(
            "trained on from step {start} to {steps} in {seconds:.2f} s",
            start=start,
            steps=steps,
            seconds=seconds,
        )
    art = getattr(fig, "nb06_artists", None)
    if art is None or art["plane"]["ax"] not in fig.axes:  # a new or cleared figure
        ax_plane, ax_curves = fig.subplots(1, 2, width_ratios=[1.25, 1])
        art = fig.nb06_artists = {"plane": None, "now": ax_curves.axvline(0, color="0.3", lw=1)}
        art["curves"] = ax_curves.plot([], [], "C0-", [], [], "C0--", lw=1.8)  # train, validation
        ax_curves.legend(art["curves"], ["train", "validation"], fontsize=8)
        ax_curves.set(xlabel="step", ylabel="cross-entropy", xlim=(0, 500), ylim=(0, 2.5))
    state, run = history.states[steps], history.run
    if steps not in history.frames:
        with threads(1):
            grid = dict(limits=BOUNDARY_LIMITS[dataset], resolution=80, state=state)
            history.frames[steps] = decision_grid(history.model, **grid)
    units = (state["0.weight"], state["0.bias"]) if width <= MAX_UNIT_LINES else None
    title = f"{dataset}: width {width}, depth {depth}"
    title += " (dashed: first-layer units)" if units is not None else ""
    plane = (ax_plane if art["plane"] is None else None, *history.frames[steps])
    art["plane"] = decision_boundary(
        *plane, history.X_train, history.y_train, units=units, title=title, art=art["plane"]
    )
    for line, values in zip(art["curves"], (run.train_loss, run.val_loss), strict=True):
        line.set_data(run.steps, values)  # as far as this setting has been trained
    art["curves_end"] = history.training.step
    art["now"].set_xdata([steps, steps])
    art["now"].axes.set_title(f"weight decay {weight_decay:g}, dropout {dropout:g}", fontsize=10)
    train, val = float(run.train_acc[steps // 5]), float(run.val_acc[steps // 5])  # every 5 steps
    return tr(
        "after {steps} steps: train accuracy {train:.0%}, validation accuracy {val:.0%} ({how})",
        steps=steps,
        train=train,
        val=val,
        how=how,
    )


def _layers(art: dict) -> list[list]:
    """What a new setting redraws (titles, loss curves, legend), then what a step does."""
    plane, curves = art["plane"], art["now"].axes
    step = [plane["shading"], plane["boundary"], plane["units"], *plane["points"], art["now"]]
    return [[plane["ax"].title, *art["curves"], curves.get_legend(), curves.title], step]


def build_demo(width=16, depth=1, weight_decay=0.0, dropout=0.0, steps=300, dataset="moons"):
    """Sliders for width, depth, weight decay, dropout and steps; a data-set dropdown. §6.

    ``slider_demo`` draws the first frame; later moves update its artists in place and redraw
    only what they change (:func:`utils.widgets.blit_png`): a new data set everything, a
    setting (or a step that trained on) the titles and curves, a step the plane and grey line.
    """
    controls = {
        "width": choice_slider(tr("hidden width"), WIDTHS, width),
        "depth": int_slider(tr("hidden layers"), depth, 1, 3),
        "weight_decay": choice_slider(tr("weight decay (AdamW)"), WEIGHT_DECAYS, weight_decay),
        "dropout": choice_slider(tr("dropout p"), DROPOUTS, dropout),
        "steps": choice_slider(tr("training steps"), SNAPSHOT_STEPS, steps),  # the snapshots only
        "dataset": dropdown(
            tr("data"), [(tr(DATASET_LABELS[kind]), kind) for kind in BOUNDARY_LIMITS], dataset
        ),
    }
    shown = {}
    prefetch = _Prefetch()
    enabled = _pause_for_cells() if PREFETCH is None else PREFETCH

    def update(fig: Figure, **values) -> tuple[str, bytes]:
        prefetch.cancel()
        in_cell = _Prefetch.busy.is_set()  # a running cell's pause stays on after the move
        _Prefetch.busy.set()
        try:
            text, png = _update(fig, **values)
        finally:
            if not in_cell:
                _Prefetch.busy.clear()
        if enabled:
            neighbours = _neighbours(values, shown.get("values"))
            prefetch.schedule([(setting, values["steps"]) for setting in neighbours])
        shown["values"] = values
        return text, png

    def _update(fig: Figure, **values) -> tuple[str, bytes]:
        text = draw_decision_boundary(fig, **values)
        setting = [value for name, value in values.items() if name != "steps"]
        setting.append(fig.nb06_artists["curves_end"])  # a step that trained on grew the curves
        redo = 0 if values["dataset"] != shown.get("dataset") else 2 - (setting != shown["setting"])
        png = blit_png(fig, _layers(fig.nb06_artists), redo)
        shown.update(dataset=values["dataset"], setting=setting)
        return text, png

    demo = slider_demo(draw_decision_boundary, controls, figsize=(9.0, 4.0), update=update)
    demo.prefetch = prefetch  # tests; close() ends the worker
    weakref.finalize(demo, prefetch.close)
    return demo


# --- §7 exercise checks -------------------------------------------------------------------------

#: Every hint and ✓ line of the checks: English templates for :func:`utils.tr`.
HINTS = {
    "list": "DeepMLP({sizes}).parameters() is empty: layers in a plain Python list are not "
    "registered, so the optimizer gets nothing. Keep them in an nn.ModuleList.",
    "some": "only {got} of {want} layers of DeepMLP({sizes}) are registered: a list hides them.",
    "unpack": "DeepMLP failed: {error}. Unpack the list: nn.Sequential(*layers).",
    "no_forward": "calling DeepMLP failed: {error}. An nn.ModuleList has no forward: loop over it.",
    "relu_last": "a ReLU after the last Linear: the output layer gives raw scores (logits).",
    "no_relu": "the ReLU between the layers is missing: without it the stack is one Linear (§2).",
    "output": "DeepMLP({sizes})(x), x of shape {shape}",
    "deep_ok": "DeepMLP registers all layers of 3 stacks and computes Linear → ReLU → … → Linear",
    "patterns": "max_regions({k}) = {got:g} = 2^k counts on/off patterns; 3 lines make 7, not 8.",
    "parallel": "max_regions({k}) = {got:g} = k + 1: parallel lines; lines that cross make more.",
    "one_short": "max_regions({k}) = {got:g} is one short: no lines leave one region, the plane.",
    "count": "max_regions({k}) is {want}, not {got:g}: into how many pieces is the k-th line cut?",
    "regions_ok": "max_regions is right for k = 0 … 12: a 2 → 4 → 1 network has ≤ 11 pieces",
    "failed": "collapse failed on the stack {shapes}: {error}. {hint}",
    "none_bias": "A layer built with bias=False has bias None: count it as zero.",
    "dtype": "The stack is float64: give the merged layer the stack's dtype.",
    "order": "Mind the order and shapes: W_1 acts first, so it is the rightmost factor.",
    "any_len": "It must work for any number of layers, one included.",
    "not_linear": "return an nn.Linear, got {kind}",
    "mutated": "collapse changed the layers it was given: leave them as they were.",
    "features": "for {shapes} expected Linear{want} (first inputs, last outputs), got Linear{got}.",
    "reversed": "the weight is W_1 W_2 W_3, the wrong order: W_1 acts first, so it stands right.",
    "bias_sum": "the bias is b_1 + b_2 + b_3, but b_1 passes through W_2 and W_3, b_2 through W_3.",
    "bias_middle": "b_2 is missing: the middle layer's bias passes through the later layers too.",
    "merged": "merged(X) for the stack {shapes}",
    "collapse_ok": "collapse turns 6 stacks (1-4 layers, no bias, float64) into 1 Linear",
    "shortcut": "draw the mask yourself (torch.rand_like) instead of calling dropout.",
    "form": "dropout(x, {p}, {training}) for x of {want} must return {want}; got {got}.",
    "eval_scaled": "eval mode scaled by 1 − p, but training's 1/(1 − p) keeps the mean: return x.",
    "eval_changed": "with training=False (eval mode) dropout is off: return x unchanged.",
    "swapped": "{zeros:.0%} zeros for p = {p}: p is the probability to drop, not to keep.",
    "zeros": "expected about {p:.0%} zeros for p = {p}, got {zeros:.0%}.",
    "no_rescale": "the survivors are not rescaled: divide by 1 − p to keep the expected value x.",
    "scaled_down": "multiply the survivors by 1/(1 − p), not by (1 − p): they are scaled up.",
    "survivors": "the surviving entries (expected x / (1 − p))",
    "same_rows": "every row got the same mask: draw one random number per entry, not per feature.",
    "same_calls": "two calls dropped the same entries: draw a fresh mask on every call.",
    "dropout_ok": "dropout drops a share p (0.2, 0.7), scales by 1/(1 − p), is off in eval mode",
}


_FAILURES = {"NoneType": "none_bias", "dtype": "dtype", "multipl": "order", "must match": "order"}


def _expect(condition: object, key: str, **values: object) -> None:
    if not condition:  # fill the hint in only when it is shown
        expect(False, tr(HINTS[key], **values))


def _reject(got: object, right: torch.Tensor, wrongs: dict) -> None:
    """Fail with ``HINTS[key]`` if ``got`` equals the known-wrong answer ``wrongs[key]``."""
    same = lambda a, b: torch.is_tensor(a) and a.shape == b.shape and torch.allclose(a, b)  # noqa: E731
    for key, wrong in wrongs.items():
        _expect(same(right, wrong) or not same(got, wrong), key)


def _chain(layers: Sequence[nn.Module], x: torch.Tensor, *, relu: bool) -> torch.Tensor:
    """``layers`` applied in order, with a ReLU between them if ``relu`` (none after the last)."""
    with torch.no_grad():
        for index, layer in enumerate(layers):
            x = layer(x)
            x = torch.relu(x) if relu and index < len(layers) - 1 else x
    return x


def check_deep_mlp(DeepMLP) -> None:
    """Check ``DeepMLP(sizes)``: every Linear registered, forward ``Linear → ReLU → … → Linear``.

    >>> class DeepMLP(nn.Module):
    ...     def __init__(self, sizes):
    ...         super().__init__()
    ...         self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
    ...     def forward(self, x):
    ...         return _chain(self.layers, x, relu=True)
    >>> check_deep_mlp(DeepMLP)
    ✓ DeepMLP registers all layers of 3 stacks and computes Linear → ReLU → … → Linear
    """
    for sizes in ([2, 16, 16, 2], [5, 3], [3, 7, 4, 6, 1]):
        try:
            model = attempt("DeepMLP", DeepMLP, sizes)
            if model is NOT_ATTEMPTED:
                return
            want = list(itertools.pairwise(sizes))
            layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
            _expect(layers, "list", sizes=sizes)
            _expect(len(layers) == len(want), "some", got=len(layers), want=len(want), sizes=sizes)
            for shape in ((5, sizes[0]), (sizes[0],), (2, 3, sizes[0])):
                x = torch.randn(shape)
                with torch.no_grad():
                    out, right = model(x), _chain(layers, x, relu=True)
                wrong = {"relu_last": right.relu(), "no_relu": _chain(layers, x, relu=False)}
                _reject(out, right, wrong)
                expect_tensor(out, right, what=tr(HINTS["output"], sizes=sizes, shape=shape))
        except (TypeError, NotImplementedError) as exc:
            key = "unpack" if "Module subclass" in str(exc) else "no_forward"
            if key == "unpack" or "forward" in str(exc):
                raise AssertionError(tr(HINTS[key], error=exc)) from exc
            raise
    passed(tr(HINTS["deep_ok"]))


def check_max_regions(max_regions) -> None:
    """Check ``max_regions(k)``: the most regions ``k`` lines cut the plane into, any number form.

    >>> check_max_regions(lambda k: 1 + k + k * (k - 1) // 2)
    ✓ max_regions is right for k = 0 … 12: a 2 → 4 → 1 network has ≤ 11 pieces
    """
    if attempt("max_regions", max_regions, 0) is NOT_ATTEMPTED:
        return
    for k in range(13):
        got, want = as_number(max_regions(k), what=f"max_regions({k})"), 1 + k * (k + 1) // 2
        wrong = {want - 1: "one_short", 2**k: "patterns", k + 1: "parallel"}  # last key wins
        _expect(got == want or got not in wrong, wrong.get(got, "count"), k=k, got=got)
        _expect(got == want, "count", k=k, got=got, want=want)
    passed(tr(HINTS["regions_ok"]))


def check_collapse(collapse) -> None:
    """Check ``collapse(layers)`` returns one ``nn.Linear`` equal to the stack ``layers``.

    >>> def collapse(layers):  # push the identity and zero through the stack
    ...     eye = torch.eye(layers[0].in_features, dtype=layers[0].weight.dtype)
    ...     merged = nn.Linear(len(eye), layers[-1].out_features, dtype=eye.dtype)
    ...     with torch.no_grad():
    ...         merged.bias.copy_(_chain(layers, torch.zeros_like(eye[0]), relu=False))
    ...         merged.weight.copy_((_chain(layers, eye, relu=False) - merged.bias).T)
    ...     return merged
    >>> check_collapse(collapse)
    ✓ collapse turns 6 stacks (1-4 layers, no bias, float64) into 1 Linear
    """
    L, f64 = nn.Linear, torch.float64
    with torch.random.fork_rng(devices=[]):  # square, non-square, 1 layer, no bias, float64
        torch.manual_seed(15)
        stacks = [
            [L(4, 4), L(4, 4), L(4, 4)],
            [L(3, 5), L(5, 4), L(4, 2)],
            [L(6, 2)],
            [L(4, 4), L(4, 4, bias=False), L(4, 4), L(4, 3)],
            [L(3, 3, bias=False), L(3, 2, bias=False)],
            [L(2, 3, dtype=f64), L(3, 3, bias=False, dtype=f64)],
        ]
        stacks = [(s, torch.randn(7, s[0].in_features, dtype=s[0].weight.dtype)) for s in stacks]
    for layers, X in stacks:
        shapes = " → ".join(map(str, [len(X[0])] + [layer.out_features for layer in layers]))
        before = [p.detach().clone() for layer in layers for p in layer.parameters()]
        try:
            merged = attempt("collapse", collapse, layers)
            if merged is NOT_ATTEMPTED:
                return
            _expect(isinstance(merged, nn.Linear), "not_linear", kind=type(merged).__name__)
            with torch.no_grad():
                out = merged(X)
        except (RuntimeError, TypeError, IndexError) as exc:
            key = next((k for t, k in _FAILURES.items() if t in str(exc)), "any_len")
            hint = tr(HINTS["failed"], shapes=shapes, error=exc, hint=tr(HINTS[key]))
            raise AssertionError(hint) from exc
        after = [p for layer in layers for p in layer.parameters()]
        _expect(all(map(torch.equal, before, after)), "mutated")
        got, want = (merged.in_features, merged.out_features), (len(X[0]), layers[-1].out_features)
        _expect(got == want, "features", shapes=shapes, got=got, want=want)
        if shapes == "4 → 4 → 4 → 4":  # square, so every order of the products runs
            (W1, b1), (W2, b2), (W3, b3) = ((m.weight.detach(), m.bias.detach()) for m in layers)
            _reject(merged.weight.detach(), W3 @ W2 @ W1, {"reversed": W1 @ W2 @ W3})
            right, b = W3 @ W2 @ b1 + W3 @ b2 + b3, merged(torch.zeros(4)).detach()
            _reject(b, right, {"bias_sum": b1 + b2 + b3, "bias_middle": right - W3 @ b2})
        expect_tensor(out, _chain(layers, X, relu=False), what=tr(HINTS["merged"], shapes=shapes))
    passed(tr(HINTS["collapse_ok"]))


def check_dropout(dropout) -> None:
    """Check ``dropout(x, p, training)`` against ``nn.Dropout(p)``: statistics on 40 000 entries
    for p = 0.2 and 0.7, both modes, 1-D to 4-D, empty and float64 inputs; no ``F.dropout``.

    >>> check_dropout(lambda x, p, train: x * (torch.rand_like(x) >= p) / (1 - p) if train else x)
    ✓ dropout drops a share p (0.2, 0.7), scales by 1/(1 − p), is off in eval mode
    """

    def call(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
        got = without(
            (F.dropout, torch.dropout), dropout, x, p, training, hint=tr(HINTS["shortcut"])
        )
        want = tr("shape {shape}, {dtype}", shape=tuple(x.shape), dtype=x.dtype)
        form = (
            tr("shape {shape}, {dtype}", shape=tuple(got.shape), dtype=got.dtype)
            if torch.is_tensor(got)
            else type(got)
        )
        _expect(form == want, "form", p=p, training=training, want=want, got=form)
        return got

    with torch.random.fork_rng(devices=[]), threads(1):  # threads only cost time at this size
        torch.manual_seed(16)
        if attempt("dropout", dropout, torch.ones(3), 0.2, False) is NOT_ATTEMPTED:
            return
        for p in (0.2, 0.7):
            x = torch.randn(100, 400)
            got = call(x, p, False)
            _reject(got, x, {"eval_scaled": x * (1 - p)})
            _expect(torch.equal(got, x), "eval_changed")
            got = call(x, p, True)
            kept, zeros = got != 0, float((got == 0).float().mean())
            _expect(abs(zeros - (1 - p)) > 0.02, "swapped", zeros=zeros, p=p)
            _expect(abs(zeros - p) < 0.02, "zeros", zeros=zeros, p=p)
            x, got = x[kept], got[kept]
            _reject(got, x / (1 - p), {"no_rescale": x, "scaled_down": x * (1 - p)})
            expect_tensor(got, x / (1 - p), what=tr(HINTS["survivors"]))
            _expect(not (kept == kept[0]).all(), "same_rows")
            x = torch.randn(100, 400)
            _expect(not torch.equal(call(x, p, True), call(x, p, True)), "same_calls")
        for shape in ((1000,), (2, 3, 4, 5), (0, 4), (50, 20)):
            x = torch.randn(shape, dtype=torch.float64 if len(shape) == 2 else None)
            call(x, 0.5, True)
            _expect(torch.equal(call(x, 0.5, False), x), "eval_changed")
    passed(tr(HINTS["dropout_ok"]))
