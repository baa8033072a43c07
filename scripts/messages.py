"""The message catalogue: find every English template that can reach ``utils.tr``, by AST.

A template is findable when it is (CONTRIBUTING.md, "Messages: utils.tr and the catalogue"):

- a string literal written as ``tr``'s first argument: ``tr("… {name} …", name=value)``; or
- a string inside a module-level ALL_CAPS constant that the module lists by name in its
  ``MESSAGES = ("HINTS", ...)`` tuple: dict values, tuple and list items, nested (dict keys
  are not templates).

``tr``'s first argument may then be a literal, an expression on a registered constant
(``HINTS[key]``, ``RULES[key][-1]``) or ``a if condition else b`` of those. Anything else (a
local variable, a parameter, an f-string, an unregistered constant) is reported: its text
could not be found, so it would silently stay English.

    python -m scripts.messages --check   # what utils/messages.zh.json lacks or no longer needs
    python -m scripts.messages --write   # add the missing templates, each with "" to translate
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

UTILS = Path(__file__).resolve().parent.parent / "utils"
REGISTRY = "MESSAGES"


@dataclass
class Scan:
    """What one module holds: its templates and every place that breaks the rule."""

    templates: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _strings(node: ast.AST, where: str, scan: Scan) -> None:
    """Collect the strings of a registered constant's value (dict keys left out)."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            scan.templates.add(node.value)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            _strings(value, where, scan)
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for element in node.elts:
            _strings(element, where, scan)
    elif any(_is_text(inner) for inner in ast.walk(node)):
        scan.problems.append(f"{where}: a computed string in a registered constant; use a literal")


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _root(node: ast.AST) -> ast.AST:
    """``HINTS`` for ``HINTS[key]``, ``HINTS.get(k)``, ``RULES[k][-1]``."""
    while True:
        if isinstance(node, ast.Subscript | ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return node


def _check_argument(node: ast.AST, where: str, registered: set, constants: set, scan: Scan) -> None:
    """Record ``tr``'s first argument as a template, or as a breach of the rule."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        scan.templates.add(node.value)
    elif isinstance(node, ast.IfExp):
        for branch in (node.body, node.orelse):
            _check_argument(branch, where, registered, constants, scan)
    else:
        root, text = _root(node), ast.unparse(node)
        if isinstance(root, ast.Name) and root.id in registered:
            return
        if isinstance(node, ast.JoinedStr):
            why = "an f-string; write a literal with {fields}"
        elif isinstance(root, ast.Name) and root.id in constants:
            why = f"{root.id} is not listed in {REGISTRY}"
        else:
            why = f"a variable template; pass a literal or list its constant in {REGISTRY}"
        scan.problems.append(f"{where}: tr({text}): {why}")


def _is_tr_call(node: ast.AST) -> bool:
    """``tr(...)`` or ``utils.tr(...)``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) == "tr"


def scan(source: str, filename: str = "<module>") -> Scan:
    """The templates of one module's ``source`` and its breaches of the rule.

    >>> found = scan('MESSAGES = ("HINTS",)\\nHINTS = {"a": "hi {x}"}\\ntr("ok")\\ntr(HINTS["a"])')
    >>> sorted(found.templates), found.problems
    (['hi {x}', 'ok'], [])
    >>> scan("def f(why):\\n    return tr(why)").problems
    ['<module>:2: tr(why): a variable template; pass a literal or list its constant in MESSAGES']
    """
    tree, result = ast.parse(source, filename), Scan()
    values: dict[str, list[ast.AST]] = {}  # module-level ALL_CAPS name -> assigned values
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id.isupper():
                values.setdefault(target.id, []).append(node.value)
    registered: set[str] = set()
    for value in values.get(REGISTRY, []):
        names = value.elts if isinstance(value, ast.Tuple | ast.List) else [None]
        for name in names:
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                registered.add(name.value)
            else:
                where = f"{filename}:{value.lineno}"
                result.problems.append(f"{where}: {REGISTRY} must be a tuple of constant names")
    for name in sorted(registered):
        if name not in values:
            result.problems.append(f"{filename}: {REGISTRY} lists {name}, not a module constant")
        for value in values.get(name, []):
            _strings(value, f"{filename}:{value.lineno}: {name}", result)
    for node in ast.walk(tree):
        if not _is_tr_call(node):
            continue
        where = f"{filename}:{node.lineno}"
        if not node.args:
            result.problems.append(f"{where}: tr() without a template")
            continue
        _check_argument(node.args[0], where, registered, set(values), result)
    return result


def _scans(folder: Path | None = None) -> list[Scan]:
    folder = UTILS if folder is None else folder
    return [
        scan(path.read_text(encoding="utf-8"), f"{path.parent.name}/{path.name}")
        for path in sorted(Path(folder).glob("*.py"))
    ]


def templates(folder: Path | None = None) -> set[str]:
    """Every English template of ``folder``'s modules (literal ``tr`` arguments and the strings
    of registered constants)."""
    return set().union(*(s.templates for s in _scans(folder)))


def problems(folder: Path | None = None) -> list[str]:
    """Every ``tr`` call in ``folder`` whose template the extractor cannot find."""
    return [problem for s in _scans(folder) for problem in s.problems]


def catalogue_path(code: str = "zh", folder: Path | None = None) -> Path:
    """``utils/messages.<code>.json``: English template -> translation."""
    return Path(UTILS if folder is None else folder) / f"messages.{code}.json"


def load(code: str = "zh", folder: Path | None = None) -> dict[str, str]:
    """The catalogue of ``code`` (empty if there is none yet)."""
    path = catalogue_path(code, folder)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def dumps(catalogue: dict[str, str]) -> str:
    """The catalogue as stored: UTF-8, sorted keys, one-space indent, final newline."""
    return json.dumps(catalogue, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="list missing and stale entries")
    action.add_argument("--write", action="store_true", help='add missing templates with ""')
    args = parser.parse_args(argv)
    found, catalogue, path = templates(), load(), catalogue_path()
    missing = sorted(found - set(catalogue))
    untranslated = sorted(t for t in found & set(catalogue) if not catalogue[t])
    stale = sorted(set(catalogue) - found)
    if args.write:
        path.write_text(dumps({**catalogue, **dict.fromkeys(missing, "")}), encoding="utf-8")
        print(f"{path.name}: added {len(missing)} templates to translate")
        untranslated, missing = sorted(untranslated + missing), []
    report = [
        *(f"violation: {p}" for p in problems()),
        *(f"missing: {t!r}" for t in missing),
        *(f"untranslated: {t!r}" for t in untranslated),
        *(f"stale: {t!r}" for t in stale),
    ]
    print("\n".join(report) if report else f"{path.name}: all {len(found)} templates translated")
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
