"""`arxiv-reco daily`: the whole morning against loopback servers speaking the real protocols: the
arXiv API fake answers Atom, a real SMTP server (aiosmtpd) with STARTTLS and AUTH receives the
mail, feedparser reads the Atom feed. What a reader gets, what is remembered, what is never sent
twice, and what happens on quiet days and on failures."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import FETCH, PASSWORD, SINCE, USER

from arxiv_reco.cli import main
from arxiv_reco.index.paper_index import PaperIndex

aiosmtpd = pytest.importorskip("aiosmtpd", reason="pip install aiosmtpd (requirements-dev.txt)")
feedparser = pytest.importorskip("feedparser", reason="pip install feedparser (requirements-dev.txt)")

def _run(world, *extra) -> None:
    # --bar 0: k papers per interest whatever they score (these tests are about delivery; test_rank, the bar)
    assert main(["daily", "--index", "index", *FETCH, "--since", SINCE, "--format", "json", "--bar", "0", *extra]) == 0


def _sections(msg) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",)).get_content()
    rich = msg.get_body(preferencelist=("html",)).get_content()
    return text, rich


def test_two_mornings_two_interests_email_and_atom_never_twice(world, smtp, capsys):
    ir, astro = world["ir"], world["astro"]
    args = ["--library", ",".join(ir), "--profile", f"astro={','.join(astro)}", "-k", "3", "--email", "me@example.org",
            "--atom", "digest.atom"]
    _run(world, *args)
    out, err = capsys.readouterr()
    day1 = json.loads(out)
    assert [e["profile"] for e in day1] == ["library"] * 3 + ["astro"] * 3  # k per interest, a section each
    for e in day1:
        assert {"id", "title", "url", "score", "profile", "because"} <= set(e)
        assert e["url"] == f"https://arxiv.org/abs/{e['id']}" and e["because"]
        liked = ir if e["profile"] == "library" else astro
        closest = next(b for b in e["because"] if "id" in b)
        assert closest["id"] in liked and -1 <= closest["cosine"] <= 1  # why: a library paper, and what it shares
    assert not {e["id"] for e in day1} & set(ir + astro)
    assert "impossible update_date" in err or "papers in the index have" not in err

    # the mail: both parts, a section per interest, the links and the because lines, the subject
    [msg] = smtp.messages
    assert msg["Subject"].startswith("arXiv digest ") and "6 new papers for 2 interests" in msg["Subject"]
    text, rich = _sections(msg)
    assert "== library (3) ==" in text and "== astro (3) ==" in text
    for e in day1:
        assert e["url"] in text and f'href="{e["url"]}"' in rich and e["title"][:40] in text
    assert text.count("because ") == 6 and "<img" not in rich and "http://" not in rich
    assert smtp.logins == [USER]

    # the Atom feed
    feed = feedparser.parse(str(world["dir"] / "digest.atom"))
    assert not feed.bozo and len(feed.entries) == 6
    assert {e.id for e in feed.entries} == {e["url"] for e in day1}
    assert all("because " in e.summary for e in feed.entries)

    # the next morning: none of the first day's papers again, the feed keeps both days without duplicates
    _run(world, *args)
    day2 = json.loads(capsys.readouterr()[0])
    assert len(day2) == 6 and not {e["id"] for e in day2} & {e["id"] for e in day1}
    assert len(smtp.messages) == 2
    feed = feedparser.parse(str(world["dir"] / "digest.atom"))
    ids = [e.id for e in feed.entries]
    assert len(ids) == 12 == len(set(ids))
    state = (world["dir"] / "index.digest.json").read_text()
    everything = state + (world["dir"] / "digest.atom").read_text() + out + err
    assert PASSWORD not in everything  # the password is never written or printed


def test_a_refused_login_or_tls_sends_and_remembers_nothing(world, smtp, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_RECO_SMTP_PASSWORD", "bad-password-1234")
    base = ["daily", "--index", "index", *FETCH, "--since", SINCE, "--library", ",".join(world["ir"]), "-k", "2", "--bar", "0",
            "--email", "me@example.org", "--atom", "digest.atom"]
    assert main(base) == 2
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("arxiv-reco")]
    assert len(said) == 1 and "refused the login" in said[0] and "bad-password-1234" not in err
    monkeypatch.setenv("ARXIV_RECO_SMTP_PASSWORD", PASSWORD)
    monkeypatch.delenv("SSL_CERT_FILE")  # the server's certificate is no longer trusted: STARTTLS fails
    assert main(base) == 2
    assert "TLS with smtp://127.0.0.1" in capsys.readouterr().err
    assert not smtp.messages and not (world["dir"] / "digest.atom").exists()
    state = json.loads((world["dir"] / "index.digest.json").read_text())
    assert state["sent"] == {} and not state["pending"]  # nothing marked as sent


def test_killed_between_sending_and_recording_sends_at_most_once_more(world, smtp, monkeypatch, capsys):
    from arxiv_reco.reader.memory import DigestMemory

    args = ["--library", ",".join(world["ir"]), "-k", "2", "--bar", "0", "--email", "me@example.org"]
    real_commit = DigestMemory.commit

    def killed(self):
        raise KeyboardInterrupt  # the process dies after the mail left, before the record

    monkeypatch.setattr(DigestMemory, "commit", killed)
    base = ["daily", "--index", "index", *FETCH, "--since", SINCE, "--format", "json", *args]
    assert main(base) == 130
    first = [m["Subject"] for m in smtp.messages]
    monkeypatch.setattr(DigestMemory, "commit", real_commit)
    assert main(base) == 0
    again = json.loads(capsys.readouterr()[0])
    assert main(base) == 0
    third = json.loads(capsys.readouterr()[0])
    assert len(first) == 1 and len(smtp.messages) == 3
    # the papers of the unrecorded mail came once more (at least once), then never again
    assert not {e["id"] for e in third} & {e["id"] for e in again}


def test_quiet_day_failing_api_and_dry_run(world, smtp, capsys):
    lib = ["--library", ",".join(world["ir"]), "--email", "me@example.org", "--max-seq-length", "32"]
    assert main(["daily", "--index", "index", "--since", "2099-01-01", *lib]) == 0
    out = capsys.readouterr().out
    assert "no new papers since 2099-01-01" in out and "nothing sent" in out and not smtp.messages
    assert main(["daily", "--index", "index", "--since", "2099-01-01", "--send-empty", *lib]) == 0
    assert len(smtp.messages) == 1 and "nothing new today" in smtp.messages[0]["Subject"]
    world["fake"].script.append("portal")  # the API answers something that is not a feed: stop, send nothing
    assert main(["daily", "--index", "index", "--categories", "cs.CL", "--pace", "0", "--since", SINCE, *lib]) != 0
    assert "not an Atom feed" in capsys.readouterr().err and len(smtp.messages) == 1
    before = (world["dir"] / "index.digest.json").read_text()
    assert main(["daily", "--index", "index", "--categories", "cs.IR", "--pace", "0", "--since", SINCE, "--dry-run",
                 "-k", "2", "--bar", "0", *lib]) == 0
    assert "dry run: nothing sent, nothing remembered" in capsys.readouterr().out
    assert len(smtp.messages) == 1 and (world["dir"] / "index.digest.json").read_text() == before


def test_interest_author_words_config_and_ids(world, capsys):
    # a reader with no library yet: a sentence is enough
    _run(world, "--interest", "galaxy formation and dark matter halos", "-k", "4", "--dry-run")
    got = json.loads(capsys.readouterr()[0])
    index = PaperIndex.load(world["dir"] / "index")
    assert len(got) == 4 and all(e["profile"] == "interest" and "interest" in e["because"][0] for e in got)
    assert sum("astro" in " ".join(index.paper(e["id"])["categories"]) for e in got) >= 3
    # follow an author: every new paper of theirs, marked, whatever it ranks
    recent = index.meta[index.mask(None, SINCE, None)]
    name = next(a for a in recent["authors"] for a in [a.split(",")[0].strip()] if len(a.split()) >= 2)
    surname, given = name.split()[-1], name.split()[0]
    _run(world, "--author", f"{surname}, {given}", "--dry-run")
    got = json.loads(capsys.readouterr()[0])
    assert got and all(e["followed"] == f"{surname}, {given}" and surname in e["authors"] for e in got)
    # words: include and exclude read titles (and abstracts)
    _run(world, "--library", ",".join(world["ir"]), "--exclude", "retrieval", "-k", "8", "--dry-run")
    assert not any("retrieval" in e["title"].lower() for e in json.loads(capsys.readouterr()[0]))
    _run(world, "--library", ",".join(world["ir"]), "--include", "language", "-k", "5", "--dry-run")
    assert all("language" in (e["title"] + e["abstract"]).lower() for e in json.loads(capsys.readouterr()[0]))
    # a config file, the flags winning over it
    (world["dir"] / "digest.toml").write_text(
        f'categories = "cs.CL"\nk = 7\n[profiles.ir]\nlibrary = ["{",".join(world["ir"])}"]\n'
        f'[profiles.astro]\nlibrary = ["{",".join(world["astro"])}"]\ninterest = "galaxies"\n')
    assert main(["daily", "--config", "digest.toml", "--index", "index", "-k", "2", "--bar", "0", "--since", SINCE, "--pace", "0",
                 "--format", "json", "--dry-run", "--max-seq-length", "32"]) == 0
    got = json.loads(capsys.readouterr()[0])
    assert [e["profile"] for e in got] == ["ir", "ir", "astro", "astro"]


def test_feed_takes_library_ids_interests_and_authors(world, capsys):
    assert main(["update", "--index", "index", *FETCH]) == 0
    capsys.readouterr()
    ids = ",".join(world["ir"][:2])
    assert main(["feed", "--index", "index", "--library", ids, "--since", SINCE, "--no-fetch", "-k", "3", "--bar", "0",
                 "--format", "json"]) == 0
    got = json.loads(capsys.readouterr()[0])
    assert len(got) == 3 and {next(b["id"] for b in g["because"] if "id" in b) for g in got} <= set(world["ir"][:2])
    assert main(["feed", "--index", "index", "--interest", "dark matter", "--profile", f"ir={ids}", "--since", SINCE,
                 "--no-fetch", "-k", "2", "--bar", "0", "--format", "csv", "--max-seq-length", "32"]) == 0
    csv = pd.read_csv(__import__("io").StringIO(capsys.readouterr()[0]))
    assert list(csv["profile"]) == ["ir", "ir", "interest", "interest"] and csv["because"].str.startswith("because").all()


def test_the_example_config_is_valid_and_documented(tmp_path, capsys):
    from arxiv_reco.reader.digest_options import read_config
    from arxiv_reco.reader.profiles import profiles_of

    assert main(["daily", "--example-config"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "d.toml").write_text(text)
    config = read_config(tmp_path / "d.toml")
    assert [p.name for p in profiles_of(config)] == ["retrieval", "agents", "astro"]
    assert text.count("#") > 15  # commented
    (tmp_path / "bad.toml").write_text("catgories = 'cs.CL'\n")
    with pytest.raises(ValueError, match="unknown setting 'catgories' \\(did you mean 'categories'\\?\\)"):
        read_config(tmp_path / "bad.toml")



def test_smtp_settings_keep_the_password_secret_and_where_it_goes(tmp_path, monkeypatch):
    import pickle

    from arxiv_reco.config import load_settings

    for var in ("ARXIV_RECO_SMTP_URL", "ARXIV_RECO_SMTP_USER", "ARXIV_RECO_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings(env_file=None, smtp_url=f"smtps://{USER.replace('@', '%40')}:{PASSWORD}@mail.example.org:465")
    assert (s.smtp_url, s.smtp_user, s.smtp_password.reveal()) == ("smtps://mail.example.org:465", USER, PASSWORD)
    assert PASSWORD not in repr(s) and PASSWORD.encode() not in pickle.dumps(s)
    # a .env naming the server gets no password from the shell
    (tmp_path / ".env").write_text("ARXIV_RECO_SMTP_URL=smtp://evil.example:587\n")
    monkeypatch.setenv("ARXIV_RECO_SMTP_PASSWORD", PASSWORD)
    with pytest.raises(ValueError, match="comes from .env but the SMTP password from your environment"):
        load_settings(env_file=tmp_path / ".env")
    (tmp_path / ".env").write_text(f"ARXIV_RECO_SMTP_URL=smtp://mail.example.org:587\nARXIV_RECO_SMTP_PASSWORD={PASSWORD}\n")
    assert load_settings(env_file=tmp_path / ".env").smtp_url == "smtp://mail.example.org:587"
    with pytest.raises(ValueError, match="must look like smtp://host:587"):
        load_settings(env_file=None, smtp_url="http://mail.example.org")
