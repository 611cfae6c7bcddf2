from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from helpers import KAGGLE_HEAD, SAMPLE_2K

from arxiv_reco.cli import main
from arxiv_reco.pairs.sampling import PAIR_COLUMNS


def test_sample_then_pairs(tmp_path, capsys):
    papers = tmp_path / "papers.parquet"
    assert main(["sample", "--snapshot", str(SAMPLE_2K), "--out", str(papers), "--n", "300",
                 "--categories", "cs.*,stat.ML", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "300 kept" in out and "skipped bad records: none" in out
    df = pd.read_parquet(papers)
    assert len(df) == 300

    pairs = tmp_path / "pairs.csv"
    assert main(["pairs", "--papers", str(papers), "--n", "200", "--out", str(pairs)]) == 0
    out = capsys.readouterr().out
    assert "wrote 200 pairs" in out and "same_primary" in out  # the pair-mix report
    got = pd.read_csv(pairs)
    assert list(got.columns) == PAIR_COLUMNS and len(got) == 200


def test_pairs_reads_kaggle_json_lines_directly(tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    assert main(["pairs", "--papers", str(KAGGLE_HEAD), "--n", "50", "--strategy", "category", "--out", str(pairs)]) == 0
    assert len(pd.read_csv(pairs)) == 50


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["sample", "--snapshot", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arxiv-reco sample: error: No snapshot at") and "Traceback" not in err
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    assert main(["pairs", "--papers", str(csv), "--n", "5"]) == 2
    assert "JSON Lines" in capsys.readouterr().err


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "arxiv_reco.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "sample" in done.stdout and "pairs" in done.stdout


def test_steps_chain_through_the_work_folder_and_settings_win_over_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_GEMINI_MODEL", "gemini-2.5-flash-lite")  # as .env would set it
    work = ["--work-dir", str(tmp_path)]
    assert main([*work, "sample", "--n", "60"]) == 0
    assert main([*work, "pairs", "--n", "20"]) == 0  # reads <work>/papers.parquet, writes <work>/pairs.csv
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main([*work, "label", "--dry-run"]) == 0  # --labeler auto, and no key: the teacher, said so
    out = capsys.readouterr().out
    assert "no Gemini key (GEMINI_API_KEY): labelling offline with the teacher" in out
    assert "dry run: the teacher would score 20 pairs here, at no cost" in out
    assert main([*work, "label", "--dry-run", "--labeler", "gemini"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "papers.parquet").exists() and (tmp_path / "pairs.csv").exists()
    assert "20 of 20 pairs to label with gemini-2.5-flash-lite" in out  # no CLI default beat the setting
    assert main([*work, "label", "--dry-run", "--labeler", "gemini", "--model", "gemini-2.5-pro"]) == 0
    assert "with gemini-2.5-pro" in capsys.readouterr().out  # and the command line beats the setting
    assert main([*work, "label", "--dry-run", "--labeler", "gemini", "--pairs-per-request", "51"]) == 2
    assert "--pairs-per-request must be at most 50, not 51" in capsys.readouterr().err


def test_verbose_shows_the_traceback_behind_the_one_line_error(tmp_path, capsys):
    assert main(["sample", "--snapshot", str(tmp_path / "missing.json")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["-v", "sample", "--snapshot", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "FileNotFoundError" in err
    assert err.strip().splitlines()[-1].startswith("arxiv-reco sample: error: No snapshot at")


def test_every_subcommand_prints_its_help_with_the_recipes_defaults(capsys):
    import re

    import pytest

    from arxiv_reco.cli import build_parser

    names = re.search(r"\{([a-z,-]+)\}", build_parser().format_help()).group(1).split(",")
    assert {"sample", "train", "evaluate", "daily"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0, name
    helps = " ".join(capsys.readouterr().out.split())
    assert "'all' of them but the 20% kept unseen (0: the training papers only) (default: 4000)" in helps
    assert "passes over the labelled pairs (default: 1 when 2,000+ more papers are distilled, else 3)" in helps


def test_the_docs_option_tables_are_made_from_the_options_themselves():
    """docs/cli.md's marked tables say what the fields say (`python scripts/docs_options.py` writes them)."""
    import importlib.util

    from helpers import REPO

    spec = importlib.util.spec_from_file_location("docs_options", REPO / "scripts" / "docs_options.py")
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    text = docs.DOC.read_text()
    assert docs.MARKED.search(text), "docs/cli.md has no generated option table"
    assert docs.tables(text) == text, "docs/cli.md's option tables are stale: run python scripts/docs_options.py"


def test_a_daily_config_and_its_flags_make_one_checked_options_value(tmp_path):
    import argparse

    from arxiv_reco.options import KEEP, add_arguments, from_args
    from arxiv_reco.reader.digest_options import DigestOptions, read_config

    (tmp_path / "d.toml").write_text('k = 4\nkeep_days = 7\nlibrary = "my.bib"\n[profiles.ml]\ninterest = "x"\n')
    parser = argparse.ArgumentParser()
    add_arguments(parser, DigestOptions)
    args = parser.parse_args(["-k", "6", "--no-fetch", "--exclude", "survey", "--exclude", "review"])
    options = from_args(DigestOptions, args, base=read_config(tmp_path / "d.toml"))
    assert (options.k, options.keep_days, options.library, options.fetch) == (6, 7, ("my.bib",), False)
    assert options.exclude == ("survey", "review") and options.profiles["ml"].interest == "x"
    assert options.but(since=KEEP, k=3).k == 3 and options.but(since=None).since is None
    with pytest.raises(ValueError, match="-k must be at least 1, not 0"):
        from_args(DigestOptions, parser.parse_args(["-k", "0"]))


def test_a_recipe_is_a_file_and_its_flags_come_from_its_fields(tmp_path):
    from arxiv_reco.cli import build_parser
    from arxiv_reco.options import KEEP, from_args
    from arxiv_reco.training.recipe import DEFAULT, Recipe, read_recipe

    (tmp_path / "short.toml").write_text('epochs = 1\ndistill_papers = "all"\ninterpolate = "auto"\nproject = true\n')
    args = build_parser().parse_args(["train", "--recipe", str(tmp_path / "short.toml"), "--epochs", "2",
                                      "--distill-papers", "300", "--no-rank", "--pair-loss", "cosent"])
    recipe = from_args(Recipe, args, base=read_recipe(args.recipe))
    assert (recipe.epochs, recipe.distill_papers, recipe.interpolate, recipe.project) == (2.0, 300, "auto", True)
    assert (recipe.rank, recipe.pair_loss, recipe.batch_size) == (False, "cosent", DEFAULT.batch_size)
    # None is a real value ("decide from the labels"): but() keeps a field only when told KEEP
    assert DEFAULT.but(project=None).project is None and DEFAULT.but(project=KEEP).project is False
    (tmp_path / "typo.toml").write_text("epoch = 1\n")
    with pytest.raises(ValueError, match=r"typo.toml: unknown setting 'epoch' \(did you mean 'epochs'\?\)"):
        read_recipe(tmp_path / "typo.toml")
    (tmp_path / "bad.toml").write_text('batch_size = "big"\n')
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        read_recipe(tmp_path / "bad.toml")
    with pytest.raises(SystemExit):  # a choice the recipe does not have: argparse's usage error, exit 2
        build_parser().parse_args(["train", "--pair-loss", "hinge"])
