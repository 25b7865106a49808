"""Training recipes registered with the variants: the run configurations they give are pinned (identical to
those of the per-paper builders before the recipes moved into the registry), every variant has one, and
bad recipes or variants without one fail with errors that say what to do."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from aqa_lib.experiments import config_for, pamfn_config, recipe_of, stage1_config
from aqa_lib.models.base import _REGISTRY, get_variant, register, variants
from aqa_lib.models.baselines import build_gdlt
from aqa_lib.recipes import ANY_DATASET, SCALES, TRAINING_SCALES, Optimiser, Pretraining, Recipe
from aqa_lib.train import RunConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _dump_module():
    spec = importlib.util.spec_from_file_location("dump_run_configs", FIXTURES / "dump_run_configs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_configs_are_the_pinned_ones():
    """Every registered variant × RG / Fis-V × two targets × smoke / quick / paper, the fall-back dataset, and
    every common keyword at a non-default value: ``RunConfig.to_dict()`` equals the pinned one (written by
    ``tests/fixtures/dump_run_configs.py`` from the per-paper builders before the move)."""
    dump = _dump_module()
    pinned = json.loads(dump.FIXTURE.read_text())
    fields, expected = pinned["fields"], pinned["configs"]
    produced = {}
    for name, call in dump.cases():
        produced[name] = dump.normalise(call().to_dict(), fields)
    missing = sorted(set(expected) - set(produced))
    assert not missing, f"pinned cases no longer produced: {missing[:5]}"
    changed = [name for name in expected if dump.digest(produced[name]) != expected[name]]
    details = []
    for name in changed[:3]:
        if name in pinned["examples"]:
            old, new = pinned["examples"][name], produced[name]
            details.append(f"{name}: " + str({k: (old.get(k), new.get(k)) for k in {*old, *new}
                                              if old.get(k) != new.get(k)}))
    assert not changed, (f"{len(changed)} of {len(expected)} run configs changed, e.g. {changed[:5]}. "
                         + " ".join(details) + " If deliberate, re-run tests/fixtures/dump_run_configs.py.")
    assert len(expected) > 1000


def test_optimiser_defaults_are_the_run_config_defaults():
    defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
                for f in dataclasses.fields(RunConfig) if f.name in Optimiser().run_fields()}
    assert {k: defaults[k] for k in Optimiser().run_fields()} == Optimiser().run_fields()
    assert TRAINING_SCALES.keys() == set(SCALES)


def test_every_paper_variant_has_a_recipe_and_configures():
    names = [n for n in variants() if not n.startswith("test/")]
    assert len(names) > 80
    families = {}
    for name in names:
        recipe = recipe_of(name)
        families.setdefault(recipe.family, []).append(name)
        cfg = config_for(name, "fisv", "TES", scale="smoke")
        assert cfg.model in (name, recipe.same_run_as) and cfg.epochs == 2
    assert set(families) == {"lmac", "pamfn", "baselines", "mlavl", "vatp"}


def test_pretraining_stages_come_from_the_recipe():
    """PAMFN two-stage: one stage-1 run per modality (the branch variant's own recipe), the widths shared,
    RGB and flow frozen; one-stage: none. Table IV's unimodal rows are the stage-1 runs themselves."""
    cfg = config_for("pamfn/tableIV/rgb+audio", "rg", "Hoop", scale="quick", seed=2, hidden_dim=48,
                     pretrain_epochs=3)
    assert [s["into"] for s in cfg.init_from] == ["branches.rgb", "branches.audio"] and cfg.freeze == ("branches.rgb",)
    stage1 = [RunConfig.from_dict(s["run"]) for s in cfg.init_from]
    assert stage1[0] == stage1_config("rgb", "rg", "Hoop", scale="quick", seed=2, hidden_dim=48, epochs=3)
    assert all(s.save_weights and s.epochs == 3 and s.model_kwargs["hidden_dim"] == 48 for s in stage1)
    assert "n_fusion" not in stage1[0].model_kwargs  # only the shared keys reach stage 1
    assert config_for("pamfn/tableIV/rgb+audio", "rg", "Hoop", training="one_stage").init_from == ()
    assert config_for("pamfn/tableIV/audio", "rg", "Ball") == config_for("pamfn/branch/audio", "rg", "Ball")
    assert get_variant("pamfn/tableIV/audio").recipe.same_run_as == "pamfn/branch/audio"


def test_recipe_reading_rules():
    r = Recipe(family="x", source="test",
               optimiser={"rg": Optimiser("sgd", lr=0.1), ANY_DATASET: Optimiser("adamw", lr=0.2)},
               scale_optimiser={"smoke": {"lr": 0.5}}, epochs={"quick": 7},
               paper_epochs={ANY_DATASET: {"TES": 11}, "fisv": {"PCS": 13}},
               width={"smoke": {"d_model": 8}}, model_kwargs={"rg": {"dropout": 0.1, "d_model": 99}})
    assert r.optimiser_for("rg", "paper").lr == 0.1 and r.optimiser_for("fs1000", "paper").optimizer == "adamw"
    assert r.optimiser_for("rg", "smoke") == Optimiser("sgd", lr=0.5)
    assert [r.epochs_for("fisv", t, "paper") for t in ("TES", "PCS")] == [11, 13]
    assert r.epochs_for("rg", "Ball", "paper") == TRAINING_SCALES["paper"]["epochs"]
    assert r.epochs_for("rg", "Ball", "quick") == 7 and r.batch_size_for("smoke") == 16
    assert r.default_model_kwargs("rg", "smoke") == {"dropout": 0.1, "d_model": 8}  # the width wins
    assert r.default_model_kwargs("fisv", "paper") == {}
    per_dataset = dataclasses.replace(r, epochs={"quick": {"rg": 100, ANY_DATASET: 50}, "smoke": {"rg": 3}})
    assert [per_dataset.epochs_for(d, "x", "quick") for d in ("rg", "fisv", "fs1000")] == [100, 50, 50]
    assert per_dataset.epochs_for("fisv", "TES", "smoke") == TRAINING_SCALES["smoke"]["epochs"]
    cropped = dataclasses.replace(r, window={"rg": 68, ANY_DATASET: 95})
    assert (cropped.window_for("rg"), cropped.window_for("fs1000"), r.window_for("rg")) == (68, 95, 0)


def test_bad_recipes_and_choices_say_what_to_do():
    with pytest.raises(ValueError, match="no optimiser settings"):
        Recipe(family="x", source="test", optimiser={})
    with pytest.raises(ValueError, match="unknown scales \\['huge'\\]"):
        Recipe(family="x", source="test", optimiser={ANY_DATASET: Optimiser()}, width={"huge": {}})
    r = Recipe(family="x", source="test", optimiser={"rg": Optimiser()}, scale_optimiser={"smoke": {"lrr": 1}})
    with pytest.raises(ValueError, match="no optimiser for dataset 'fisv'"):
        r.optimiser_for("fisv", "paper")
    with pytest.raises(ValueError, match="unknown fields \\['lrr'\\]"):
        r.optimiser_for("rg", "smoke")
    with pytest.raises(ValueError, match="training='two_stage' does not apply to 'pamfn/branch/rgb'; valid values: "
                                         "branch"):
        config_for("pamfn/branch/rgb", "rg", "Ball", training="two_stage")
    with pytest.raises(ValueError, match="training='branch' does not apply.*two_stage, one_stage"):
        pamfn_config("pamfn", "rg", "Ball", training="branch")
    with pytest.raises(ValueError, match="Unknown target 'Ball'"):
        config_for("lmac", "fisv", "Ball")
    with pytest.raises(ValueError, match="Unknown scale"):
        config_for("lmac", "fisv", "TES", scale="huge")
    with pytest.raises(TypeError, match="aqa_lib.recipes.Recipe"):
        register("test/bad_recipe", build_gdlt, description="bad", recipe={"lr": 1})
    assert isinstance(Pretraining("v/{modality}", "b.{modality}", "b").when, dict)


def test_variant_without_recipe_names_the_fix():
    if "test/no_recipe" not in _REGISTRY:
        register("test/no_recipe", build_gdlt, description="registered without a recipe")
    with pytest.raises(ValueError, match="'test/no_recipe' has no training recipe.*recipe=Recipe\\(\\.\\.\\.\\)"):
        config_for("test/no_recipe", "fisv", "TES")
    with pytest.raises(ValueError, match="Unknown model variant 'nope'"):
        config_for("nope", "fisv", "TES")
