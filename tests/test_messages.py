"""The message catalogue: every template the helpers can print is found by ``scripts.messages``,
translated in ``utils/messages.zh.json`` field for field, and printed in Chinese after
``utils.set_language("zh")``: not-attempted notes, hints, ✓ lines, demo readouts and labels."""

from __future__ import annotations

import fnmatch
import json
import re
import string
import tomllib
from pathlib import Path

import ipywidgets as widgets
import pytest
import torch.nn.functional as F
from torch import nn

import utils
from scripts import messages
from scripts.series import all_demos
from utils import (
    nb01_affine,
    nb02_nn_linear,
    nb03_initialization,
    nb04_gradients,
    nb05_optimizers,
    nb06_mlp,
    nb07_batchnorm,
    nb08_functional,
    nb09_modern_models,
)
from utils._validate import require_int
from utils.check import NOT_ATTEMPTED, NOT_ATTEMPTED_MARK, PASS_MARK, attempt

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
TEMPLATES = messages.templates()
ZH = messages.load("zh")
DEMOS = all_demos()


def fields(text: str) -> list[tuple[str, str, str]]:
    """The ``{name!conversion:spec}`` fields of a format string, sorted."""
    parsed = string.Formatter().parse(text)
    return sorted((name, conversion or "", spec) for _, name, spec, conversion in parsed if name)


# --- the catalogue ---------------------------------------------------------------------------


def test_the_helpers_follow_the_rule_so_every_template_is_found():
    assert messages.problems() == []
    assert len(TEMPLATES) > 300  # every module's hints, readouts and labels


def test_every_template_has_a_chinese_entry_and_no_entry_is_stale():
    missing = sorted(t for t in TEMPLATES if not ZH.get(t, "").strip())
    stale = sorted(set(ZH) - TEMPLATES)
    assert not missing, f"untranslated (python -m scripts.messages --write): {missing}"
    assert not stale, f"no longer used: {stale}"


def test_entries_keep_the_fields_of_their_template():
    drifted = {t: ZH[t] for t in TEMPLATES & set(ZH) if fields(t) != fields(ZH[t])}
    assert not drifted


def test_chinese_text_uses_full_width_punctuation():
    # A half-width , ; : ? ! or ( right after a Chinese character: ，；：？！（ are meant.
    half_width = re.compile(r"[\u4e00-\u9fff][,;:?!(]")
    assert not {t: v for t, v in ZH.items() if half_width.search(v)}


def test_the_not_attempted_mark_translates_exactly():
    assert ZH[NOT_ATTEMPTED_MARK] == "… 尚未作答"
    assert PASS_MARK not in ZH  # "✓" is the same in every edition


def test_the_catalogue_is_stored_canonically():
    text = messages.catalogue_path().read_text(encoding="utf-8")
    assert text == messages.dumps(json.loads(text))  # sorted keys, indent 1, real UTF-8


def test_the_catalogue_ships_with_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["utils"]
    assert any(fnmatch.fnmatch("messages.zh.json", pattern) for pattern in patterns)


# --- the extractor ---------------------------------------------------------------------------

SYNTHETIC = """
from utils import tr

MESSAGES = ("HINTS", "ABSENT")
HINTS = {"key": "a registered {name} hint", "nested": ("one", ["two", 3])}
UNLISTED = "an unlisted constant"


def check(why, key):
    tr("a literal {x}", x=1)
    tr(HINTS[key], name="n")
    tr("short" if key else "long")
    tr(why)
    tr(UNLISTED)
    tr(f"{why} made here")
    hint = "written here, passed later"
    return tr(hint)
"""


def test_the_extractor_finds_literals_and_registered_constants():
    found = messages.scan(SYNTHETIC, "demo.py")
    literal = {"a literal {x}", "short", "long"}
    assert found.templates == literal | {"a registered {name} hint", "one", "two"}
    assert "key" not in found.templates  # dict keys are not templates


def test_the_extractor_reports_every_template_it_cannot_find():
    problems = messages.scan(SYNTHETIC, "demo.py").problems
    assert any("ABSENT" in p and "not a module constant" in p for p in problems)
    assert any("demo.py:13: tr(why): a variable template" in p for p in problems)
    assert any("tr(UNLISTED): UNLISTED is not listed in MESSAGES" in p for p in problems)
    assert any("an f-string" in p for p in problems)
    assert any("demo.py:17: tr(hint): a variable template" in p for p in problems)
    assert len(problems) == 5


def test_write_adds_missing_templates_for_a_translator(tmp_path, monkeypatch, capsys):
    (tmp_path / "mod.py").write_text(SYNTHETIC.replace('"ABSENT"', '"UNLISTED"'))
    (tmp_path / "messages.zh.json").write_text(
        messages.dumps({"old": "旧", "short": "短"}), encoding="utf-8"
    )
    monkeypatch.setattr(messages, "UTILS", tmp_path)
    assert messages.main(["--write"]) == 1  # written, but not yet translated
    catalogue = messages.load("zh", tmp_path)
    assert catalogue["short"] == "短" and catalogue["long"] == "" and catalogue["old"] == "旧"
    report = capsys.readouterr().out
    assert "untranslated: 'long'" in report and "stale: 'old'" in report
    assert "mod.py:13: tr(why): a variable template" in report


def test_check_passes_on_the_repository(capsys):
    assert messages.main(["--check"]) == 0
    assert f"all {len(TEMPLATES)} templates translated" in capsys.readouterr().out


# --- the Chinese edition at run time ---------------------------------------------------------


@pytest.fixture
def zh(monkeypatch):
    """``set_language("zh")`` for one test, "en" again after it. Every template looked up must
    be in the catalogue: a template that reached ``tr`` unseen by the extractor fails here."""
    unseen: set[str] = set()

    class Recording(dict):
        def get(self, key, default=None):
            if key not in self:
                unseen.add(key)
            return super().get(key, default)

    recording = Recording(utils._catalogue("zh"))
    monkeypatch.setattr(utils, "_catalogue", lambda code: recording)
    utils.set_language("zh")
    try:
        yield
    finally:
        utils.set_language("en")
    assert not unseen, f"templates printed but not in the catalogue: {sorted(unseen)}"


def test_set_language_rejects_unknown_codes():
    with pytest.raises(ValueError, match=r"language must be one of \('en', 'zh'\); got 'fr'"):
        utils.set_language("fr")
    assert utils.tr("orientation kept") == "orientation kept"  # still English


def test_an_untouched_exercise_prints_the_chinese_note(zh, capsys):
    assert attempt("Y_predicted", ...) is NOT_ATTEMPTED

    def stub(X, W, b):
        raise NotImplementedError("fill in apply_layer")

    nb01_affine.check_apply_layer(stub)
    notes = capsys.readouterr().out.splitlines()
    assert notes == [
        "… 尚未作答：请先在上方补全 Y_predicted，再运行本单元格。",
        "… 尚未作答：请先在上方补全 apply_layer，再运行本单元格。",
    ]


def test_a_right_answer_prints_a_chinese_pass_line(zh, capsys):
    nb05_optimizers.check_two_steps(0.67, 0.37)
    line = capsys.readouterr().out
    assert line.startswith(f"{PASS_MARK} ") and CJK.search(line)


WRONG_ANSWERS = {  # one wrong answer per notebook module, through each kind of check helper
    "nb01 hint": lambda: nb01_affine.check_predicted_batch([[0, 0], [0, 0]]),
    "nb01 without": lambda: nb01_affine.check_apply_layer(lambda X, W, b: F.linear(X, W, b)),
    "nb02 mistake": lambda: nb02_nn_linear.check_count_linear_parameters(7840, 217994, 1050624),
    "nb02 validate": lambda: nb02_nn_linear.explore_linear_shapes("3", 1, 5, 3),
    "nb03 hint + rule": lambda: nb03_initialization.check_relu_init(nn.init.xavier_uniform_),
    "nb04 shape": lambda: nb04_gradients.check_bias_grad(lambda G: G),
    "nb05 as_number": lambda: nb05_optimizers.check_two_steps("0.67", 0.37),
    "nb05 hint": lambda: nb05_optimizers.check_two_steps(0.7, 0.7),
    "nb06 hint": lambda: nb06_mlp.check_max_regions(lambda k: k + 1),
    "nb07 hint": lambda: nb07_batchnorm.check_eval_prediction(0.0),
    "nb08 judge": lambda: nb08_functional.check_linear_forward(lambda x, w, b=None: x @ w.T),
    "nb09 merge": lambda: nb09_modern_models.check_merge_lora(lambda base, A, B, alpha: base),
    "nb09 bytes": lambda: nb09_modern_models.check_megatron_bytes(lambda *sizes: (0, 0)),
    "validate": lambda: require_int(2.5, name="steps"),
}


@pytest.mark.parametrize("case", WRONG_ANSWERS)
def test_a_wrong_answer_gets_a_chinese_hint(zh, case):
    with pytest.raises((AssertionError, TypeError, ValueError)) as raised:
        WRONG_ANSWERS[case]()
    assert CJK.search(str(raised.value)), str(raised.value)


def test_a_hint_names_the_mistake_in_chinese(zh):
    with pytest.raises(AssertionError, match="n_head 只数了权重"):
        nb02_nn_linear.check_count_linear_parameters(7840, 217994, 1050624)
    with pytest.raises(AssertionError, match=r"前向传播.*字节数.*每个进程只持有 Y 的一部分"):
        nb09_modern_models.check_megatron_bytes(lambda *sizes: (0, 0))


def _another_value(control: widgets.ValueWidget) -> object:
    if hasattr(control, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return next(value for value in values if value != control.value)
    if isinstance(control, widgets.Checkbox):
        return not control.value
    return control.max if control.value != control.max else control.min


@pytest.mark.parametrize("name", DEMOS)
def test_demo_readout_and_labels_follow_the_language(zh, name):
    demo = DEMOS[name]()
    assert CJK.search(demo.readout.value), demo.readout.value
    key, control = next(iter(demo.controls.items()))
    control.value = _another_value(control)
    assert CJK.search(demo.readout.value), f"{name}: {key} moved, readout {demo.readout.value}"
    descriptions = [control.description for control in demo.controls.values()]
    if name != "nb01_affine":  # its sliders are named after the matrix entries a11 … b2
        assert any(CJK.search(d) for d in descriptions), descriptions


def test_dropdown_labels_translate_while_values_stay(zh):
    optimizer = nb05_optimizers.build_demo().controls["optimizer"]
    assert ("SGD + 动量 0.9", "SGD + momentum 0.9") in optimizer.options
    dataset = nb06_mlp.build_demo().controls["dataset"]
    assert dataset.value == "moons" and dataset.label == "moons（双月）"
