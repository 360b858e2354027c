"""The stamp a benchmark result carries: which paths ``git status`` says changed."""

from bench.results import changed_paths


def test_first_entry_keeps_its_first_letter() -> None:
    # A leading " M" (worktree-modified) entry once lost its path's first letter when the output was stripped,
    # so "bench/results/x.json" read "ench/results/x.json" and stamped later benchmarks dirty.
    out = " M bench/results/cost.json\0 M provisioning/use_cases/service.py\0?? notes.txt\0"
    assert changed_paths(out) == ["bench/results/cost.json", "provisioning/use_cases/service.py", "notes.txt"]


def test_rename_names_the_new_path_and_skips_the_source() -> None:
    out = "R  provisioning/new.py\0provisioning/old.py\0 M README.md\0"
    assert changed_paths(out) == ["provisioning/new.py", "README.md"]


def test_clean_tree_has_no_paths() -> None:
    assert changed_paths("") == []
