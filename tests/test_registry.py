"""The library's structure: every module imports alone (no import cycles), the layering is one-way, and every
model checks its inputs through the one shared helper with the same errors."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import aqa_lib
from aqa_lib.models.base import check_inputs, create_model

PACKAGE = Path(aqa_lib.__file__).resolve().parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], prefix="aqa_lib."))

# One fresh interpreter imports each module with every aqa_lib module purged before it, so each import starts
# from nothing of the library, exactly as `python -c "import aqa_lib.X"` would, while torch and pandas are
# imported once instead of once per module (the same check at a tenth of the time on a busy machine).
_IMPORT_EACH = """
import importlib, json, sys, traceback
failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "aqa_lib" or m.startswith("aqa_lib.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    assert {"aqa_lib.analysis", "aqa_lib.experiments", "aqa_lib.centres", "aqa_lib.recipes"} <= set(MODULES)
    out = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(MODULES)], capture_output=True,
                         text=True, timeout=600, check=True)
    failures = json.loads(out.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(f"{name}:\n{tb}" for name, tb in failures.items())


def _imports(module: str) -> set[str]:
    """Every aqa_lib module ``module`` imports, at module level or inside a function (absolute names)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    is_package = path.is_dir()
    path = path / "__init__.py" if is_package else path.with_suffix(".py")
    package = module if is_package else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found |= {target, *(f"{target}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {name for name in found if name.startswith("aqa_lib")}


def _imports_of_tree(prefix: str) -> set[str]:
    return set().union(*(_imports(m) for m in MODULES if m == prefix or m.startswith(prefix + ".")))


@pytest.mark.parametrize(("importer", "forbidden"), [
    ("aqa_lib.experiments", "aqa_lib.analysis"),  # analysis uses experiments (figure runs), never the reverse
    ("aqa_lib.losses", "aqa_lib.models"),  # the losses need the centre only (aqa_lib.centres)
    ("aqa_lib.centres", "aqa_lib.models"),
    ("aqa_lib.models", "aqa_lib.experiments"),  # models declare recipes as plain data, the engine reads them
    ("aqa_lib.models", "aqa_lib.train"),
    ("aqa_lib.models", "aqa_lib.analysis"),
    ("aqa_lib.recipes", "aqa_lib."),  # plain data: nothing of the library
    ("aqa_lib.report", "aqa_lib.experiments"),  # experiments build tables with report, never the reverse
    ("aqa_lib.cache", "aqa_lib.train"),  # the engine uses the cache
])
def test_dependencies_are_one_way(importer, forbidden):
    """Function-level imports count too: a lazy import is still a cycle, only a hidden one."""
    bad = sorted(name for name in _imports_of_tree(importer) if name.startswith(forbidden))
    assert not bad, f"{importer} imports {bad}"


# ----- the shared input check -----

DIMS = {"rgb": 24, "flow": 20, "audio": 12}
SMALL = {"lmac": {"d_model": 16, "d_ffn": 16, "n_heads": 2}, "pamfn": {"d_model": 16, "hidden_dim": 16, "n_fusion": 2},
         "gdlt": {"d_model": 16}}
NAMES = {"lmac": "LMAC-Net", "pamfn": "PAMFN", "gdlt": "GDLT"}
B, T = 2, 12


def _model(name: str):
    torch.manual_seed(0)
    dims = DIMS if name != "gdlt" else {"rgb": 24}
    return create_model(name, in_dims=dims, **SMALL[name]).eval()


def _feats(dims=DIMS) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {m: torch.randn(B, T, d, generator=g) for m, d in dims.items()}


@pytest.mark.parametrize("name", ["lmac", "pamfn", "gdlt"])
def test_models_share_one_input_check(name):
    model = _model(name)
    who = NAMES[name]
    feats = _feats({m: DIMS[m] for m in model.modalities})
    with torch.no_grad():
        assert model(feats).score.shape == (B,)  # mask=None: every segment real
        missing = {m: x for m, x in feats.items() if m != "rgb"}
        with pytest.raises(ValueError, match=f"Missing modality 'rgb': {who} reads features\\['rgb'\\] of shape "
                                             "\\[B, T, 24\\].*modalities="):
            model(missing)
        with pytest.raises(ValueError, match=f"features\\['rgb'\\] has shape \\(2, 12, 7\\); {who} expected "
                                             "\\[B, T, 24\\].*in_dims"):
            model({**feats, "rgb": torch.randn(B, T, 7)})
        with pytest.raises(ValueError, match=f"mask has shape \\(2, 11\\); {who} expected \\[B, T\\] = \\(2, 12\\)"):
            model(feats, torch.ones(B, T - 1, dtype=torch.bool))
        with pytest.raises(ValueError, match=f"no real segment.*{who}"):
            model(feats, torch.zeros(B, T, dtype=torch.bool))
        if len(feats) > 1:
            with pytest.raises(ValueError, match="share batch size"):
                model({**feats, "audio": torch.randn(B, T + 1, DIMS["audio"])})


def test_check_inputs_directly():
    feats = _feats()
    xs, mask = check_inputs(feats, None, {"audio": 12, "rgb": 24}, model="M")
    assert list(xs) == ["audio", "rgb"] and mask.dtype == torch.bool and bool(mask.all())
    _, mask = check_inputs(feats, torch.ones(B, T, dtype=torch.int64), {"rgb": 24}, model="M")
    assert mask.dtype == torch.bool
    short = torch.arange(T)[None].expand(B, T) < 3
    with pytest.raises(ValueError, match="3 real segments; M needs at least 4"):
        check_inputs(feats, short, {"rgb": 24}, model="M", min_segments=4)
    with pytest.raises(ValueError, match="features\\['rgb'\\] has shape \\(2, 12\\)"):
        check_inputs({"rgb": torch.randn(B, T)}, None, {"rgb": 24}, model="M")
    with pytest.raises(ValueError, match="empty in_dims"):
        check_inputs(feats, None, {}, model="M")


def test_built_modalities_is_remembered_per_variant_dims_and_keywords(monkeypatch):
    """The modalities a variant reads are found once per (variant, in_dims, keywords): a second call builds
    nothing; other dims or keywords are asked again."""
    from aqa_lib.models import base

    dims = {"rgb": 8, "flow": 8, "audio": 6}
    assert base.built_modalities("lmac/table7/rgb+audio", dims) == ("rgb", "audio")
    assert base.built_modalities("mlavl", {"rgb": 8, "audio": 6}, d_model=16, n_heads=2) == ("rgb", "audio")
    built = []
    monkeypatch.setattr(base, "create_model", lambda *a, **k: built.append(a) or pytest.fail("built again"))
    assert base.built_modalities("lmac/table7/rgb+audio", dims) == ("rgb", "audio")
    assert base.built_modalities("mlavl", {"rgb": 8, "audio": 6}, d_model=16, n_heads=2) == ("rgb", "audio")
    monkeypatch.undo()
    assert base.built_modalities("mlavl", {"rgb": 8, "audio": 6}, d_model=16, n_heads=2,
                                 modalities=("rgb",)) == ("rgb",)
