"""The GPU check script works: its dry run (the README's command, tiny sizes on the CPU) writes every step's
figures and no error, and it refuses a CUDA run without a GPU with a message saying what to do. The FLOP
counts of ``bench_pamfn.py`` (GDLT and PAMFN's RGB branch) come out.

The figures themselves are not asserted (benchmarks print, tests do not time); what is checked is that every
step ran and recorded what the README says it records, so the script is ready the day a GPU is lent.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _readme_dry_run() -> list[str]:
    for line in (ROOT / "README.md").read_text().splitlines():
        if "benchmarks/gpu_check.py" in line and "--dry-run" in line:
            return shlex.split(line, comments=True)[2:]
    raise AssertionError("the README shows no dry run of benchmarks/gpu_check.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu_check") / "gpu_check.json"
    args = [*_readme_dry_run(), "--repeats", "1", "--out", str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"wrote {out}" in done.stdout
    return json.loads(out.read_text())


def test_dry_run_records_every_step_without_error(report):
    assert {"environment", "bf16_parity", "paper_epochs", "throughput"} <= set(report)
    assert "tests" not in report  # --skip-tests
    errors = {k: v["error"] for k, v in report.items() if isinstance(v, dict) and "error" in v}
    assert not errors, errors
    assert report["environment"]["device"] == "cpu"


def test_dry_run_bf16_parity_covers_the_three_paper_models(report):
    parity = report["bf16_parity"]
    assert set(parity) == {"lmac", "pamfn", "mlavl"}
    for figures in parity.values():
        assert figures["params"] > 1_000_000  # the paper configurations, not a small width
        assert math.isfinite(figures["loss_fp32"]) and figures["step_s_fp32"] > 0
        # on the CPU autocast is off in this step: both passes are float32 and must agree exactly
        assert figures["max_abs_pred_diff"] == 0.0 and figures["grad_cosine"] == pytest.approx(1.0)


def test_dry_run_throughput_times_real_groups(report):
    smoke = report["throughput"]["smoke"]
    assert smoke["steps_per_epoch"] >= 1 and smoke["gflop_per_epoch"] > 0
    alone, pair = smoke["m1"], smoke["m2"]
    assert alone["vs_alone"] == 1.0
    for row in (alone, pair):
        assert row["runs_per_hour"] > 0 and row["epoch_s"] >= row["step_s"] > 0
    # a group of two does twice the work of one run in its epoch
    assert pair["epoch_s_per_run"] == pytest.approx(pair["epoch_s"] / 2, rel=1e-2)
    assert report["paper_epochs"]["epochs"] == 1 and math.isfinite(report["paper_epochs"]["last_test_spearman"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without a GPU")
def test_cuda_run_without_a_gpu_says_what_to_do():
    done = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no CUDA GPU is visible" in done.stderr and "--device cpu --dry-run" in done.stderr


@pytest.mark.parametrize("job", ["gdlt", "pamfn_rgb"])
def test_bench_pamfn_counts_the_flops_of_a_step_and_an_evaluation(job, monkeypatch, tmp_path):
    # bench_pamfn.py's FLOP columns (README, "Training runs"); GDLT's evaluation once failed to count (its
    # expanded queries under no_grad defeated FlopCounterMode's module tracker)
    from aqa_lib.experiments.baselines import baseline_config
    from aqa_lib.experiments.pamfn import stage1_config
    from aqa_lib.train import _setup, load_data

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from bench_group import run_flops

    config = (baseline_config("gdlt", "fisv", "TES", scale="smoke") if job == "gdlt"
              else stage1_config("rgb", "fisv", "TES", scale="smoke"))
    r = _setup(config.replace(record_train=(), record_test=(), save_weights=False), load_data(config))
    step, evaluation = run_flops(r)
    assert step > 0 and evaluation > 0 and math.isfinite(step + evaluation)
