"""pytest-benchmark suite: kernel variants and whole models, tracked over commits.

    pytest benchmarks/ --benchmark-autosave      # run, and save under benchmarks/.benchmarks/
    pytest benchmarks/ --benchmark-compare       # run, and compare with the last saved run
    pytest-benchmark compare --storage benchmarks/.benchmarks   # list / diff saved runs
"""
from __future__ import annotations

import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # make_models
DEFAULT_STORAGE = "file://./.benchmarks"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # History lives next to the suite (git-ignored there), whatever directory pytest starts in.
    if config.getoption("benchmark_storage") == DEFAULT_STORAGE:
        config.option.benchmark_storage = f"file://{HERE / '.benchmarks'}"


def pytest_benchmark_update_machine_info(config, machine_info):
    """Saved runs carry what `edgert bench --json` records: CPU features, kernels picked, versions."""
    from edgert.bench import environment

    machine_info["edgert"] = environment.collect()


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, pathlib.Path]:
    from make_models import write_models

    return {path.stem: path for path in write_models(tmp_path_factory.mktemp("models"))}
