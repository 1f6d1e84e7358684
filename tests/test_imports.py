"""The runtime stays light: no TensorFlow, no wfdb, and dependencies point one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_edge_ecg_loads_neither_tensorflow_nor_wfdb():
    code = (
        "import sys, edge_ecg, edge_ecg.cli, edge_ecg.dataset, edge_ecg.records; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'wfdb', 'scipy', 'train', 'convert', 'firmware_bench')); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _imports(tree: ast.AST):
    """(node, imported top-level names) for every absolute import under ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, [node.module.split(".")[0]]


def test_tensorflow_is_only_a_lazy_last_resort_interpreter():
    """TensorFlow may be imported in one place: inside the interpreter lookup, as the last
    fallback when neither LiteRT nor tflite-runtime is installed."""
    places = []
    for path in (REPO / "edge_ecg").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef):
                for _, names in _imports(func):
                    if "tensorflow" in names or "keras" in names:
                        places.append(f"{path.name}:{func.name}")
        top = [
            n
            for node in tree.body
            for _, n in _imports(node)
            if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
        assert not any(n in ("tensorflow", "keras") for names in top for n in names), path
    assert set(places) <= {"interpreter.py:interpreter_class", "models.py:__init__"}, places


def test_edge_ecg_imports_none_of_the_other_packages():
    offenders = []
    for path in (REPO / "edge_ecg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("train", "convert", "firmware_bench"):
                    offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []


def test_cli_help_lists_groups_without_loading_tensorflow():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from edge_ecg.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(r.output)\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "data" in out.stdout
