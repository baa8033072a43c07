"""Slider demos that redraw one owned figure in place.

Every demo in the series is built in three layers, and only the last touches ipywidgets:

1. a pure function that computes numbers from the slider values (tested directly);
2. a ``draw(fig, **values)`` function that draws those numbers onto a given ``Figure`` and
   returns a one-line readout (callable on its own, e.g. in tests);
3. :func:`slider_demo`, which owns one ``matplotlib.figure.Figure`` (outside pyplot, so it
   never piles up), re-renders it to PNG on every slider move and shows it in an ``Image``.

A demo whose axes never change can skip the clear-and-redraw: ``slider_demo(..., update=...)``
draws the first picture with ``draw``, then lets ``update`` change those artists in place and
render only what moves (:func:`blit_png`).

The PNG-in-an-``Image`` approach works under any matplotlib backend, never stacks plots, and
keeps the last image in the saved widget state, so static HTML renders show it too.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: A draw function: draws onto ``fig`` for the given control values, returns the readout text.
DrawFn = Callable[..., str]
#: An update function: changes the artists on ``fig`` in place, returns ``(readout, png)``.
UpdateFn = Callable[..., tuple[str, bytes]]

#: One label column for every control, so the slider tracks line up under each other.
CONTROL_STYLE = {"description_width": "180px"}
CONTROL_WIDTH = "520px"


def _control_layout() -> widgets.Layout:
    return widgets.Layout(width=CONTROL_WIDTH)


def figure_png(fig: Figure, *, dpi: float | None = None) -> bytes:
    """Render a figure to PNG bytes (works with any backend, no pyplot needed).

    >>> figure_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    buffer = io.BytesIO()
    # Fast zlib level: a redraw is interactive, a few extra kilobytes do not matter.
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def blit_png(fig: Figure, layers: Sequence[Sequence[Artist]], redo: int = 1) -> bytes:
    """PNG of ``fig`` drawn in stages (blitting): its still parts, then each list of artists in
    ``layers`` on top, in order. Every stage is kept, so a frame draws again only the layers
    from number ``redo`` on (1 = all layers, 0 = the still parts too) and reuses the others.

    The first call, and every call with ``redo=0``, marks the layers' artists animated (left
    out of the still parts) and draws the still parts afresh; do so whenever they change. The
    figure gets an Agg canvas of its own if it has none.

    >>> fig = Figure(figsize=(2, 1), dpi=50)
    >>> (line,) = fig.add_subplot().plot([0, 1], [0, 1])
    >>> first = blit_png(fig, [[line]], redo=0)
    >>> line.set_ydata([1, 0])
    >>> second = blit_png(fig, [[line]])  # the axes are reused, only the line is drawn
    >>> line.get_animated(), first[:4] == second[:4] == b'\\x89PNG', first != second
    (True, True, True)
    """
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    stages = getattr(canvas, "blit_stages", None)  # stages[j]: the still parts and layers[:j]
    if redo == 0 or stages is None:
        for layer in layers:
            for artist in layer:
                artist.set_animated(True)
        canvas.draw()
        stages = canvas.blit_stages = [canvas.copy_from_bbox(fig.bbox)]
    start = min(max(redo, 1) - 1, len(stages) - 1)  # the first layer drawn again
    del stages[start + 1 :]
    canvas.restore_region(stages[start])
    for index in range(start, len(layers)):
        if index > start:
            stages.append(canvas.copy_from_bbox(fig.bbox))
        for artist in layers[index]:
            fig.draw_artist(artist)
    image = PIL.Image.fromarray(np.asarray(canvas.buffer_rgba()))
    if fig.get_facecolor()[3] == 1:  # an opaque figure makes every pixel opaque: RGB loses nothing
        image = image.convert("RGB")  # and is ~15 % faster to encode, ~12 % smaller to send
    buffer = io.BytesIO()
    image.save(buffer, "png", compress_level=1)  # fast zlib level: a frame is interactive
    return buffer.getvalue()


@dataclass
class SliderDemo:
    """A built demo: the widget tree to display plus handles that tests and benchmarks use.

    Display it by leaving it as the last expression of a cell. ``controls`` maps each
    keyword of the draw function to its widget; setting ``controls[name].value`` redraws.
    """

    widget: widgets.Box
    figure: Figure
    image: widgets.Image
    readout: widgets.HTML
    controls: dict[str, widgets.ValueWidget]
    redraw: Callable[[], None]
    #: The message of the last redraw that failed on bad settings, else ``None``.
    last_error: str | None = field(default=None)

    def values(self) -> dict[str, object]:
        """The current value of every control, keyed like the draw function's keywords."""
        return {name: control.value for name, control in self.controls.items()}

    def _repr_mimebundle_(self, **kwargs: object) -> dict | None:
        return self.widget._repr_mimebundle_(**kwargs)


def slider_demo(
    draw: DrawFn,
    controls: Mapping[str, widgets.ValueWidget],
    *,
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: float = 80,
    update: UpdateFn | None = None,
) -> SliderDemo:
    """Wire ``controls`` to ``draw`` so that every change redraws one figure in place.

    ``draw(fig, **values)`` receives the cleared, owned figure and the current value of each
    control; it returns the readout text shown under the sliders. A ``ValueError`` from
    ``draw`` (a setting that makes no sense) is shown in the readout instead of crashing
    the widget, and recorded in ``demo.last_error``.

    ``update(fig, **values) -> (readout, png)``, if given, takes over every move after the
    first picture ``draw`` made: the figure keeps that picture's layout, and ``update``
    changes its artists in place and renders the PNG itself (e.g. with :func:`blit_png`,
    redrawing only what moves). A ``ValueError`` from ``update`` is shown like one from
    ``draw``, and the picture stays as it was.

    >>> def draw(fig, slope):
    ...     fig.add_subplot().plot([0, 1], [0, slope])
    ...     return f"slope = {slope}"
    >>> demo = slider_demo(draw, {"slope": widgets.FloatSlider(value=1.0, min=-2, max=2)})
    >>> demo.readout.value
    '<code>slope = 1.0</code>'
    >>> first = demo.image.value
    >>> demo.controls["slope"].value = -2.0
    >>> demo.readout.value, demo.image.value != first
    ('<code>slope = -2.0</code>', True)
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable as draw(fig, **values); got {type(draw).__name__}")
    if not controls:
        raise ValueError("slider_demo needs at least one control, e.g. {'w': FloatSlider()}")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(
                f"control {name!r} must be an ipywidgets value widget; got {type(control).__name__}"
            )

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    # Show the PNG at its own pixel size (a VBox would stretch it, blurry, to the cell width);
    # narrower screens scale it down, keeping the aspect ratio.
    width_px = round(figsize[0] * dpi)
    image = widgets.Image(
        format="png",
        layout=widgets.Layout(width=f"{width_px}px", max_width="100%", height="auto"),
    )
    readout = widgets.HTML()
    demo = SliderDemo(
        widget=widgets.VBox([*controls.values(), readout, image]),
        figure=fig,
        image=image,
        readout=readout,
        controls=dict(controls),
        redraw=lambda: None,
    )

    # Constrained layout is the slowest step of a redraw, so it runs only when the set of axes
    # changes; otherwise each new frame reuses the axes positions it computed.
    frozen_positions: list = []

    def draw_frame(values: dict[str, object]) -> str:
        fig.clear()
        fig.set_layout_engine(None if frozen_positions else "constrained")
        text = draw(fig, **values)
        if frozen_positions and len(fig.axes) == len(frozen_positions):
            for ax, position in zip(fig.axes, frozen_positions, strict=True):
                ax.set_position(position)
        elif frozen_positions:  # the draw made a different set of axes: lay it out afresh
            frozen_positions.clear()
            text = draw_frame(values)
        else:
            fig.get_layout_engine().execute(fig)
            frozen_positions.extend(ax.get_position() for ax in fig.axes)
        return text

    def redraw(_change: object = None) -> None:
        if update is not None and frozen_positions:  # the artists of the first picture exist
            try:
                text, png = update(fig, **demo.values())
                demo.last_error = None
                image.value = png
            except ValueError as exc:
                demo.last_error = str(exc)
                text = f"⚠ {exc}"
            readout.value = f"<code>{html.escape(text)}</code>"
            return
        try:
            text = draw_frame(demo.values())
            demo.last_error = None
        except ValueError as exc:  # a setting that makes no sense: say so, keep the widget alive
            fig.clear()
            frozen_positions.clear()
            demo.last_error = str(exc)
            text = f"⚠ {exc}"
        if update is not None and frozen_positions:
            fig.set_layout_engine(None)  # update keeps this layout: no layout engine from now on
        image.value = figure_png(fig)
        readout.value = f"<code>{html.escape(text)}</code>"

    demo.redraw = redraw
    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return demo


def float_slider(
    description: str, value: float, low: float, high: float, step: float = 0.1
) -> widgets.FloatSlider:
    """A ``FloatSlider`` with the series' look: readable label width, two decimals.

    >>> float_slider("a", 1.0, -2.0, 2.0).max
    2.0
    """
    if not low <= value <= high:
        raise ValueError(f"value {value} must lie in [{low}, {high}]")
    return widgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        readout_format=".2f",
        style=CONTROL_STYLE,
        layout=_control_layout(),
    )


def int_slider(
    description: str, value: int, low: int, high: int, step: int = 1
) -> widgets.IntSlider:
    """An ``IntSlider`` with the series' look.

    >>> int_slider("n", 3, 1, 8).min
    1
    """
    if not low <= value <= high:
        raise ValueError(f"value {value} must lie in [{low}, {high}]")
    return widgets.IntSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        style=CONTROL_STYLE,
        layout=_control_layout(),
    )


def choice_slider(
    description: str, options: Sequence[float], value: float
) -> widgets.SelectionSlider:
    """A slider over a fixed list of numbers (e.g. a 1-2-5 scale of learning rates).

    >>> choice_slider("lr", (0.01, 0.1, 1.0), 0.1).value
    0.1
    """
    if value not in options:
        raise ValueError(f"{description} must be one of {tuple(options)}; got {value}")
    return widgets.SelectionSlider(
        options=[(f"{option:g}", option) for option in options],
        value=value,
        description=description,
        style=CONTROL_STYLE,
        layout=_control_layout(),
    )


def dropdown(
    description: str, options: Sequence[str | tuple[str, str]], value: str
) -> widgets.Dropdown:
    """A ``Dropdown`` aligned with the sliders. An option is a value, or a ``(label, value)``
    pair when what the learner reads (e.g. translated by ``utils.tr``) differs from the value.

    >>> dropdown("optimiser", ["SGD", "Adam"], "Adam").value
    'Adam'
    >>> dropdown("data", [("two moons", "moons")], "moons").label
    'two moons'
    """
    values = [option[1] if isinstance(option, tuple) else option for option in options]
    if value not in values:
        raise ValueError(f"{description} must be one of {tuple(values)}; got {value!r}")
    return widgets.Dropdown(
        options=list(options),
        value=value,
        description=description,
        style=CONTROL_STYLE,
        layout=_control_layout(),
    )


def checkbox(description: str, value: bool) -> widgets.Checkbox:
    """A ``Checkbox`` whose label is never cut short, aligned with the sliders.

    >>> checkbox("mismatch", False).value
    False
    """
    return widgets.Checkbox(
        value=value, description=description, style=CONTROL_STYLE, layout=_control_layout()
    )
