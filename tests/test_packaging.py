"""The repository's top-level `constraints/` and `guidance/` install under `ctrlgen.` and never as top-level
modules: PyPI's `guidance` is another library that a user may have installed next to ours."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_import_ctrlgen_leaves_a_foreign_guidance_module_alone(tmp_path):
    # A stand-in for PyPI's `guidance` (and a `constraints` module) sits first on the path.
    for name in ("guidance", "constraints"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("FOREIGN = True\n")
    script = textwrap.dedent(
        """
        import sys
        import guidance, constraints
        import ctrlgen
        from ctrlgen import JsonSchema
        ctrlgen.load().generate(n=1, constraints=[JsonSchema({"type": "boolean"})], seed=0)
        assert sys.modules["guidance"].FOREIGN and sys.modules["constraints"].FOREIGN
        assert sys.modules["ctrlgen.guidance"] is not sys.modules["guidance"]
        assert ctrlgen.guidance.__name__ == "ctrlgen.guidance"
        assert ctrlgen.constraints.__name__ == "ctrlgen.constraints"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_import_ctrlgen_imports_no_top_level_guidance(tmp_path):
    script = "import sys, ctrlgen; print(sorted(m for m in sys.modules if m in ('guidance', 'constraints')))"
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_import_and_help_stay_light():
    """``import ctrlgen`` and ``ctrlgen --help`` load neither torch, Lightning, transformers nor numba (seconds
    of imports): the public names load on first use."""
    import subprocess
    import sys

    heavy = ("torch", "lightning", "transformers", "numba")
    code = (
        "import sys, ctrlgen, ctrlgen.cli\n"
        "try:\n"
        "    ctrlgen.cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
        "ctrlgen.Length(3); ctrlgen.Regex('a+')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_every_public_name_resolves():
    import ctrlgen

    for name in ctrlgen.__all__:
        assert getattr(ctrlgen, name) is not None, name
