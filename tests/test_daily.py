"""`arxiv-reco daily`: the whole morning against loopback servers speaking the real protocols: the
arXiv API fake answers Atom, a real SMTP server (aiosmtpd) with STARTTLS and AUTH receives the
mail, feedparser reads the Atom feed. What a reader gets, what is remembered, what is never sent
twice, and what happens on quiet days and on failures."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from helpers import FETCH, PASSWORD, SINCE, USER

from arxiv_reco.cli import main
from arxiv_reco.index.paper_index import PaperIndex
from arxiv_reco.reader.update import abstract_lookup

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
    assert all(e["abstract"] for e in day1)  # kept by the index itself: no --papers needed
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
    raw = (world["dir"] / "digest.atom").read_text()  # where the feed lives, as a reader subscribes to it
    assert f'href="{(world["dir"] / "digest.atom").as_uri()}" rel="self"' in raw
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
    # a word filter never hides a followed author's paper: every one was asked for
    word = next(w for w in re.findall(r"[a-z]{5,}", got[0]["title"].lower()))
    _run(world, "--author", f"{surname}, {given}", "--exclude", word, "--dry-run")
    assert [e["id"] for e in json.loads(capsys.readouterr()[0])] == [e["id"] for e in got]
    # words: include and exclude read titles (and abstracts)
    _run(world, "--library", ",".join(world["ir"]), "--exclude", "retrieval", "-k", "8", "--dry-run")
    assert not any("retrieval" in e["title"].lower() for e in json.loads(capsys.readouterr()[0]))
    _run(world, "--library", ",".join(world["ir"]), "--include", "language", "-k", "5", "--dry-run")
    got = json.loads(capsys.readouterr()[0])
    whole = abstract_lookup(None, world["dir"] / "index")([e["id"] for e in got])  # the entries carry first sentences
    assert got and all(re.search(r"\blanguage\b", (e["title"] + " " + whole[e["id"]]).lower()) for e in got)
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
    assert [p.name for p in profiles_of(config)] == ["retrieval", "agents", "evaluation"]
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


def test_what_a_reader_clicks_on_the_page_shapes_the_next_digest_with_no_flag(world, capsys):
    from arxiv_reco.reader.library import reading_list_path, save_reading_list

    # the reader has only a sentence; on the page they liked three IR papers and marked one "not for me"
    _run(world, "--interest", "neural retrieval of documents", "-k", "5", "--dry-run")
    before = json.loads(capsys.readouterr()[0])
    meh = before[0]["id"]
    save_reading_list(reading_list_path(world["dir"] / "index"), world["ir"][:3], [meh])
    _run(world, "--interest", "neural retrieval of documents", "-k", "5", "--dry-run")
    after = json.loads(capsys.readouterr()[0])
    assert {e["profile"] for e in after} == {"library", "interest"}  # the page's likes are an interest now
    assert meh not in {e["id"] for e in after}  # and its "not for me" is pushed away everywhere
    assert not {e["id"] for e in after} & set(world["ir"][:3])  # a liked paper is never served back
    # the reader can say no: --no-page-likes ranks as before
    _run(world, "--interest", "neural retrieval of documents", "-k", "5", "--dry-run", "--no-page-likes")
    assert [e["id"] for e in json.loads(capsys.readouterr()[0])] == [e["id"] for e in before]


def test_a_labs_digest_one_update_each_reader_their_own_mail_and_memory(world, smtp, capsys):
    ir, astro = world["ir"], world["astro"]
    (world["dir"] / "lab.toml").write_text(f"""
index = "index"
categories = "cs.CL,cs.IR,astro-ph.GA"
pace = 0
max_seq_length = 32
k = 3
bar = 0

[readers.ana]
email = "ana@example.org"
library = ["{','.join(ir)}"]

[readers.ben]
email = "ben@example.org"
k = 2
[readers.ben.profiles.galaxies]
library = ["{','.join(astro)}"]
""")
    assert main(["daily", "--config", "lab.toml", "--since", SINCE, "--format", "json"]) == 0
    got = json.loads(capsys.readouterr()[0])
    queries = [e for e in world["fake"].log if "search_query" in e["params"]]
    assert sum(e["params"].get("start") == "0" for e in queries) == 1  # one update for the whole lab
    assert [(e["reader"], e["profile"]) for e in got] == [("ana", "library")] * 3 + [("ben", "galaxies")] * 2
    assert sorted(m["To"] for m in smtp.messages) == ["ana@example.org", "ben@example.org"]
    ana, ben = (world["dir"] / "index.digest.ana.json"), (world["dir"] / "index.digest.ben.json")
    assert ana.exists() and ben.exists() and not (world["dir"] / "index.digest.json").exists()  # remembered apart
    # the next morning: each reader gets only what is new to them
    assert main(["daily", "--config", "lab.toml", "--since", SINCE, "--format", "json"]) == 0
    again = json.loads(capsys.readouterr()[0])
    for name in ("ana", "ben"):
        assert not {e["id"] for e in again if e["reader"] == name} & {e["id"] for e in got if e["reader"] == name}
    # a reader cannot set what the lab shares
    (world["dir"] / "bad.toml").write_text('index = "index"\n[readers.ana]\ncategories = "cs.CL"\n')
    assert main(["daily", "--config", "bad.toml", "--dry-run"]) == 2
    assert "[readers.ana]: categories belong at the top of the file" in capsys.readouterr().err


def test_a_tldr_per_paper_written_once_within_the_days_cap(world, smtp, fake, capsys, monkeypatch):
    from helpers import KEY

    from arxiv_reco.reader.tldr import read_cache, tldr_path

    args = ["--library", ",".join(world["ir"]), "-k", "4", "--tldr", "--tldr-cap", "3"]
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    _run(world, *args, "--dry-run")  # no key: the digest goes without them, and says so
    assert "TL;DR: none today, no GEMINI_API_KEY" in capsys.readouterr()[1] and not fake.log
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    _run(world, *args, "--dry-run")  # the cost of the day, and no call
    assert re.search(r"TL;DR: would write 3 with gemini-2\.5-flash \(about \$0\.\d{4}\), 1 over the cap",
                     capsys.readouterr()[1]) and not fake.log
    _run(world, *args, "--email", "me@example.org")
    got, err = capsys.readouterr()
    got = json.loads(got)
    assert "TL;DR: 3 written ($0.0" in err and "1 over today's cap" in err and len(fake.log) == 3
    written = [e for e in got if e.get("tldr")]
    assert len(written) == 3 and all(e["tldr"].startswith("It studies ") for e in written)
    text = smtp.messages[-1].get_body(preferencelist=("plain",)).get_content()
    assert all(f"TL;DR: {e['tldr']}" in text for e in written) and KEY not in text + err
    assert set(read_cache(tldr_path(world["dir"] / "index"))) == {e["id"] for e in written}
    # the same papers again (--resend): the kept sentences, no new call for them
    _run(world, *args, "--resend", "--dry-run")
    assert "TL;DR: would write 1 with" in capsys.readouterr()[1] and len(fake.log) == 3
