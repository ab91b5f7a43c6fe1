"""The manual: the MkDocs site builds with --strict (no broken link or anchor, every include found), the
README stays a front page, and no page narrates in the first person or tells the history of a mistake."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CHANGELOG = ROOT / "CHANGELOG.md"
DOCS = ROOT / "docs"
INCLUDED = [ROOT / "bench" / "results.md", ROOT / "ARCHITECTURE.md"]  # pages of the site, single sources

# First-person narration and history that belongs in CHANGELOG.md. Deliberately simple: a sentence that
# starts with "I", "I'm"/"I've", "we measured" and the like, a session narrated as such, "earlier versions
# of this ...".
BANNED = [
    re.compile(r"(?:^|[.!?]\s+|^\s*(?:[-*]|\d+\.)\s+)I\s", re.M),
    re.compile(r"\bI'(?:m|ve|d|ll)\b"),
    re.compile(r"\b[Ww]e (?:measured|ran|found|tried|saw|checked|observed|timed|used)\b"),
    re.compile(r"\bthis\s+session\b", re.I),
    re.compile(r"\bearlier versions? of this (?:section|page|table)\b", re.I),
]


def pages() -> list[Path]:
    return [README, CHANGELOG, *sorted(DOCS.rglob("*.md")), *INCLUDED]


def narration(text: str) -> list[str]:
    """The offending passages of a page's text (empty when it is clean)."""
    return [m.group(0).strip() for pattern in BANNED for m in pattern.finditer(text)]


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


def test_site_builds_strict_with_its_single_sources(tmp_path):
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    benchmarks = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    architecture = (tmp_path / "site" / "architecture" / "index.html").read_text()
    # bench/results.md and ARCHITECTURE.md are included at build time, not copied into docs/.
    first_section = re.search(r"^## (.+)$", INCLUDED[0].read_text(), re.M).group(1)
    assert re.sub(r"[*`]", "", first_section).split("(")[0].strip() in benchmarks
    assert "--8&lt;--" not in benchmarks and "--8&lt;--" not in architecture
    assert "Rules, checked by" in INCLUDED[1].read_text() and "Rules, checked by" in architecture


def test_a_broken_link_fails_the_build(tmp_path):
    """--strict really is on: a copy of the site with a link to a missing page does not build."""
    copy = tmp_path / "repo"
    shutil.copytree(DOCS, copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for path in INCLUDED:
        (copy / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy / path.relative_to(ROOT))
    assert build(copy / "mkdocs.yml", tmp_path / "site-ok").returncode == 0
    (copy / "docs" / "tuning.md").write_text((copy / "docs" / "tuning.md").read_text() + "\n[gone](no-such-page.md)\n")
    result = build(copy / "mkdocs.yml", tmp_path / "site-broken")
    assert result.returncode != 0 and "no-such-page.md" in result.stdout + result.stderr


def test_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert "make test" in text and "make tune PROBLEM=" in text
    for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text):  # every image it shows exists
        assert (ROOT / target).is_file(), f"README shows {target}, which does not exist"
    for target in re.findall(r"\]\(((?:docs/|bench/|[A-Z]+\.md)[^)#\s]*)", text):  # and every local link
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_first_person_or_history(page):
    found = narration(page.read_text())
    assert not found, f"{page.relative_to(ROOT)}: {found}"


@pytest.mark.parametrize("bad", [
    "# Results\n\nI measured 3x on my laptop.\n",
    "Fast. I ran it twice.\n",
    "- I've seen it fail.\n",
    "Speed-ups, as we measured them, hold.\n",
    "Measured in this\nsession on 2 cores.\n",
    "Earlier versions of this section measured the first row wrongly.\n",
])
def test_the_check_fails_on_a_planted_bad_page(bad):
    assert narration(bad)


def test_the_check_passes_plain_text():
    assert not narration("Measured with `make bench` on 2 cores, 2026-12-06. Type I errors stay below 5%.\n"
                         "Input/output (I/O) is cheap. In this section the rule is stated.\n")
