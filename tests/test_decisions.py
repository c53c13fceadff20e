"""The decision register (docs/decisions.md) against the code, tests and notebooks that cite it.

A cited decision id must have an entry; an entry must have the four fields of the format; nothing
may cite a file that is not in the repository (the project's working notes are not shipped).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "docs" / "decisions.md"
PREFIXES = "JCDESX"
ID = rf"[{PREFIXES}]\d{{1,2}}"
#: "Decision J9", "Decisions C1-C4", "decisions J6-J9, J12 and C5": every id after the word.
CITED = re.compile(rf"\b[Dd]ecisions? ({ID}(?:(?:-|\s*,\s*|\s+and\s+|\s+or\s+){ID})*)")
#: Bare Jiao ids ("J9's base", "J13-J15"): the letter J has no other meaning in this code base.
BARE_J = re.compile(r"\b(J\d{1,2}(?:-J\d{1,2})?)\b")
#: Bare CLIFFNet ids in notebook text ("C5: L1 reconstruction loss"); in code C2..C5 are ResNet maps.
BARE_C = re.compile(r"\b(C\d{1,2}(?:-C\d{1,2})?)\b")
#: Files that are not part of the repository (the study's working notes).
EXTERNAL = re.compile(r"papers\.md|design\.md|data\.md|anchors\.md|shared/spec|\bissue \d+|implementation notes")
FIELDS = ("- Paper:", "- Choice:", "- Why:", "- Code:")


def register_entries(text: str) -> dict[str, str]:
    """id -> body of its ``### <ID>: title`` entry."""
    parts = re.split(rf"^### ({ID}): .+$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def expand(citation: str) -> set[str]:
    """``"C1-C4, C6"`` -> {C1, C2, C3, C4, C6}; a range must stay within one prefix."""
    ids: set[str] = set()
    for token in re.findall(rf"{ID}(?:-{ID})?", citation):
        first, _, last = token.partition("-")
        if not last:
            ids.add(first)
            continue
        if first[0] != last[0] or int(first[1:]) > int(last[1:]):
            raise ValueError(f"bad decision range {token!r}")
        ids.update(f"{first[0]}{n}" for n in range(int(first[1:]), int(last[1:]) + 1))
    return ids


def notebook_texts(path: Path) -> tuple[str, str]:
    """(markdown text, code text) of a notebook's cells."""
    cells = json.loads(path.read_text())["cells"]
    def join(kind):
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)
    return join("markdown"), join("code")


def sources() -> dict[str, str]:
    """Repository-relative path -> text of every file that may cite a decision."""
    out: dict[str, str] = {}
    for folder, pattern in (("depthstudy", "*.py"), ("depthstudy", "*.yaml"), ("tests", "*.py"),
                            ("data_manifests", "*"), ("docs", "*.md")):
        for p in sorted((ROOT / folder).rglob(pattern)):
            if p.name != Path(__file__).name and "__pycache__" not in p.parts:
                out[str(p.relative_to(ROOT))] = p.read_text()
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        markdown, code = notebook_texts(p)
        out[str(p.relative_to(ROOT)) + ":markdown"] = markdown
        out[str(p.relative_to(ROOT)) + ":code"] = code
    for name in ("README.md", "Makefile", "pyproject.toml"):
        if (ROOT / name).is_file():
            out[name] = (ROOT / name).read_text()
    return out


def cited_ids(name: str, text: str) -> set[str]:
    """Decision ids cited in one file's text."""
    ids = set().union(*(expand(m) for m in CITED.findall(text)), *(expand(m) for m in BARE_J.findall(text)))
    if name.endswith(":markdown"):
        ids |= set().union(*(expand(m) for m in BARE_C.findall(text)))
    return ids


def test_register_entries_are_complete_and_unique():
    text = REGISTER.read_text()
    entries = register_entries(text)
    headings = re.findall(rf"^### ({ID}):", text, flags=re.M)
    assert len(headings) == len(set(headings)), f"duplicate ids in {REGISTER}"
    for key, body in entries.items():
        missing = [f for f in FIELDS if f not in body]
        assert not missing, f"{REGISTER}: entry {key} lacks {missing}"
    assert {f"J{n}" for n in range(1, 18)} | {f"C{n}" for n in range(1, 8)} <= set(entries)


def test_every_cited_decision_is_in_the_register():
    entries = set(register_entries(REGISTER.read_text()))
    missing = {name: sorted(cited_ids(name, text) - entries) for name, text in sources().items()}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"decision ids cited but absent from docs/decisions.md: {missing}"


def test_nothing_cites_a_file_outside_the_repository():
    hits = {name: sorted(set(EXTERNAL.findall(text))) for name, text in sources().items()}
    hits = {k: v for k, v in hits.items() if v}
    assert not hits, f"citations of files that are not in the repository: {hits}"


def test_register_code_paths_exist():
    paths = set(re.findall(r"`((?:depthstudy|tests|docs|notebooks)/[\w./]+)`", REGISTER.read_text()))
    assert paths, "the register names no code paths"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"docs/decisions.md names files that do not exist: {missing}"


@pytest.mark.parametrize("text, ids", [
    ("Decision J9: L1", {"J9"}), ("Decisions C1-C4 in HEGR", {"C1", "C2", "C3", "C4"}),
    ("decisions J6-J9 and J12", {"J6", "J7", "J8", "J9", "J12"}), ("J13-J15 unknown", {"J13", "J14", "J15"}),
    ("res5 C5 [B,2048]", set()),
])
def test_citation_parser(text, ids):
    assert cited_ids("x.py", text) == ids


def test_citation_parser_catches_a_missing_id():
    assert cited_ids("x.ipynb:markdown", "see C9 and Decision X99") - set(register_entries(REGISTER.read_text())) \
        == {"C9", "X99"}
