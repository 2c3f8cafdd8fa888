"""The SDK's gitignore matcher (the server's too) against `pathspec` and against git itself."""

from __future__ import annotations

import re
import shutil
import subprocess

import pathspec
import pytest

from mlstudio.sdk._ignore import IgnoreRules

# pathspec compiles "[[" classes into regexes Python warns may change meaning one day.
pytestmark = pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")

# One folder tree; every ancestor of a file is a directory. Names are chosen to hit escapes,
# spaces, brackets and dots.
FILES = [
    "foo", "bar.txt", "a.log", "b.LOG", ".hidden", "README", "x", "y1.txt", "yz.txt",
    "#hash", "!bang", "[x]", "ab*c", "q?.md", "trail.txt ", "space /x.txt",
    "build/out.o", "build/keep.txt", "build/sub/deep.o", "build/sub/notes.txt",
    "src/main.py", "src/util.pyc", "src/foo", "src/foo.py", "src/build/x.py",
    "src/__pycache__/main.cpython-311.pyc", "src/pkg/__init__.py", "src/pkg/data.csv",
    "docs/index.md", "docs/a/readme.md", "docs/a/b/c.md", "docs/a/b/image.png",
    "a/b", "a/bb", "a/x/b", "a/x/y/b", "a/x/y/z/c",
    "logs/today.log", "logs/keep.log", "logs/old/2020.log",
    "data/small.csv", "data/raw/big.csv", "data/raw/part-0001.parquet",
    "node_modules/pkg/index.js", "dir.log/inner.txt", "deep/deeper/deepest/file.tmp",
    "abx/y/c", "abc/c", "caps/README", "test/foo/bar", "foo2/bar", "outputs/model.pt",
    ".venv/bin/python", ".vscode/settings.json",
]  # fmt: skip
DIRECTORIES = sorted({f.rsplit("/", i)[0] for f in FILES for i in range(1, f.count("/") + 1)})
PATHS = [(path, False) for path in FILES] + [(path, True) for path in DIRECTORIES]

# Each entry is the content of one ignore file, as lines.
RULE_SETS = [
    ["foo"], ["/foo"], ["foo/"], ["build/"], ["/build/"], ["build"], ["**/build"],
    ["src/build/"], ["*.log"], ["*.LOG"], ["?.log"], ["dir.log"], ["**/foo"], ["/**/foo"],
    ["***/foo"], ["*/foo/*"], ["a/**/b"], ["**/a/**/b"], ["a/*/b"], ["a/b"], ["a/b/"],
    ["/a/b"], ["a/x"], ["a/x/"], ["*/b"], ["docs/**"], ["docs/**/*.md"], ["docs/*/*.md"],
    ["docs/a/"], ["deep/**/*.tmp"], ["build/**/*.o"], ["**/*.o"], ["data/raw"], ["/data/"],
    ["data/**/*.csv"], ["src/*.py"], ["src/**/x.py"], ["test/foo/"], ["foo2/**/bar"],
    ["ab**/c"], ["a***/b"], ["docs/**/"], ["**"], ["*/"], ["*/*/"], ["/*/"], ["/*.txt"],
    ["**foo"], ["foo**"], ["f**o"], ["d*/"], ["*.py[co]"], ["*.[oa]"], ["*.[!p]*"], ["[!a]*.txt"],
    ["y[0-9].txt"], ["y[a-z].txt"], ["[a-c]*.log"], ["[^b]ar.txt"], ["[]x]"], ["\\[x]"],
    ["[[]x]"], ["[!/]oo"], ["[--/]*"], ["[z-a]*"], ["[[:upper:]]*"], ["[[:digit:]]*"],
    ["[[:alpha:]"], ["[[:bogus:]]*"], ["[a-"], ["foo\\"], ["ab\\*c"], ["q\\?.md"],
    ["\\#hash"], ["#hash"], ["# a comment", "", "   "], ["\\!bang"], ["!bang"],
    ["trail.txt\\ "], ["trail.txt "], ["bar.txt   "], ["space /"], ["space\\ /x.txt"],
    [".*"], [".hidden"], ["__pycache__/"], ["node_modules/"], ["*.pyc", "!util.pyc"],
    ["build/", "!build/keep.txt"], ["build/*", "!build/keep.txt"],
    ["build/**", "!build/sub/"], ["build/**", "!build/sub/", "!build/sub/**"],
    ["logs/*", "!logs/keep.log"], ["logs/", "!logs/keep.log"], ["*", "!*/", "!*.py"],
    ["*.md", "!docs/a/*.md"], ["src/", "!src/main.py"], ["!src/", "src/"],
    ["foo", "!foo"], ["*.csv", "!data/small.csv"], ["!*.csv"], ["data/", "!data/raw/"],
    ["/*", "!/src/", "src/*", "!src/pkg/"], [".venv/", ".vscode/", "outputs/", "*.pt"],
]  # fmt: skip

# Where pathspec 1.1 differs from git 2.39 we follow git; test_it_agrees_with_git proves each
# answer below. Directories are given to pathspec with a trailing slash, its convention.
PATHSPEC_DIFFERS: dict[tuple[str, ...], frozenset[str]] = {
    # `dir/**` matches what is inside dir, not dir itself; so `!dir/sub/` can re-include sub.
    ("docs/**",): frozenset({"docs"}),
    ("build/**", "!build/sub/"): frozenset({"build", "build/sub"}),
    ("build/**", "!build/sub/", "!build/sub/**"): frozenset({"build"}),
    # A trailing slash after `**` still means "only directories below": no file matches.
    ("docs/**/",): frozenset({"docs", "docs/index.md"}),
    # git cannot re-include anything whose directory is excluded; pathspec does.
    ("build/", "!build/keep.txt"): frozenset({"build/keep.txt"}),
    ("src/", "!src/main.py"): frozenset({"src/main.py"}),
    ("logs/", "!logs/keep.log"): frozenset({"logs/keep.log"}),
    ("data/", "!data/raw/"): frozenset(
        {"data/raw", "data/raw/big.csv", "data/raw/part-0001.parquet"}
    ),
    # `!*/` re-includes every directory in git; pathspec keeps them excluded by `*`.
    ("*", "!*/", "!*.py"): frozenset(DIRECTORIES),
    # git matches an anchored pattern's literal head on its own, so a `**` right after it
    # acts as a whole segment; and `***` is `**`.
    ("ab**/c",): frozenset({"abc", "abx/y/c"}),
    ("a***/b",): frozenset({"a/x/b", "a/x/y/b"}),
    ("***/foo",): frozenset({"foo"}),
    # Classes: git's [!/] matches any character but a slash; a range may start at "-";
    # POSIX classes such as [:upper:] work; an unclosed class matches nothing.
    ("[!/]oo",): frozenset({"foo"}),
    ("[--/]*",): frozenset(
        {".hidden", ".venv", ".venv/bin", ".venv/bin/python", ".vscode", ".vscode/settings.json"}
    ),
    ("[[:upper:]]*",): frozenset({"README", "caps/README"}),
    ("[[:digit:]]*",): frozenset({"logs/old/2020.log"}),
    ("[[:alpha:]",): frozenset(
        {
            "a",
            "a/b",
            "a/bb",
            "a/x",
            "a/x/b",
            "a/x/y",
            "a/x/y/b",
            "a/x/y/z",
            "a/x/y/z/c",
            "docs/a",
            "docs/a/b",
            "docs/a/b/c.md",
            "docs/a/b/image.png",
            "docs/a/readme.md",
        }
    ),
}
# Patterns pathspec refuses to compile; git reads them and matches nothing.
PATHSPEC_REFUSES = {("[z-a]*",), ("foo\\",)}


def _pathspec_answer(spec: pathspec.GitIgnoreSpec, path: str, is_dir: bool) -> bool:
    return spec.match_file(path + "/" if is_dir else path)


def test_the_table_is_broad():
    assert len(RULE_SETS) >= 40
    assert len(PATHS) >= 60
    assert sum(1 for path, _ in PATHS if path.count("/") >= 2) >= 10


@pytest.mark.parametrize("lines", RULE_SETS, ids=lambda lines: " | ".join(lines) or "empty")
def test_it_agrees_with_pathspec(lines):
    key = tuple(lines)
    if key in PATHSPEC_REFUSES:
        with pytest.raises((ValueError, re.error)):
            pathspec.GitIgnoreSpec.from_lines(lines)
        return
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    rules = IgnoreRules.from_lines(lines)
    differs = PATHSPEC_DIFFERS.get(key, frozenset())
    disagreements = [
        (path, is_dir)
        for path, is_dir in PATHS
        if rules.ignores(path, is_dir) != (_pathspec_answer(spec, path, is_dir) ^ (path in differs))
    ]
    assert disagreements == []


def test_every_listed_difference_is_a_real_one():
    for lines, paths in PATHSPEC_DIFFERS.items():
        assert list(lines) in RULE_SETS
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
        rules = IgnoreRules.from_lines(lines)
        for path, is_dir in PATHS:
            if path in paths:
                assert rules.ignores(path, is_dir) != _pathspec_answer(spec, path, is_dir), path


@pytest.fixture(scope="module")
def git_tree(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("tree")
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return root


def _git_ignored(root, lines) -> set[str]:
    (root / ".gitignore").write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-z"],
        cwd=root,
        input="\0".join(path for path, _ in PATHS) + "\0",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: nothing is ignored
    return {path for path in result.stdout.split("\0") if path}


def test_it_agrees_with_git(git_tree):
    disagreements = []
    for lines in RULE_SETS:
        ignored = _git_ignored(git_tree, lines)
        rules = IgnoreRules.from_lines(lines)
        disagreements += [
            (lines, path)
            for path, is_dir in PATHS
            if rules.ignores(path, is_dir) != (path in ignored)
        ]
    assert disagreements == []


def rules(*lines: str) -> IgnoreRules:
    return IgnoreRules.from_lines(lines)


def test_it_matches_a_trailing_slash_pattern_only_against_directories():
    assert rules("build/").ignores("build", is_dir=True)
    assert not rules("build/").ignores("build", is_dir=False)
    assert rules("build/").ignores("src/build", is_dir=True)
    assert rules("build/").ignores("build/out.o", is_dir=False)


def test_it_anchors_a_pattern_with_a_leading_or_middle_slash():
    assert rules("/build").ignores("build", is_dir=True)
    assert not rules("/build").ignores("src/build", is_dir=True)
    assert rules("src/build").ignores("src/build", is_dir=True)
    assert not rules("src/build").ignores("lib/src/build", is_dir=True)
    assert rules("build").ignores("lib/src/build", is_dir=True)


def test_it_ignores_everything_inside_an_ignored_directory():
    assert rules("data").ignores("data/raw/part-1.csv", is_dir=False)
    assert rules("data").ignores("data/raw", is_dir=True)
    assert rules("*.d").ignores("conf.d/a/b.txt", is_dir=False)


def test_it_cannot_re_include_a_file_whose_directory_is_ignored():
    assert rules("build/", "!build/keep.txt").ignores("build/keep.txt", is_dir=False)
    assert not rules("build/*", "!build/keep.txt").ignores("build/keep.txt", is_dir=False)


def test_it_keeps_a_directory_that_only_its_contents_are_ignored_in():
    assert not rules("build/**").ignores("build", is_dir=True)
    assert rules("build/**").ignores("build/sub", is_dir=True)
    assert not rules("build/**", "!build/sub/").ignores("build/sub", is_dir=True)
    assert rules("build/**", "!build/sub/").ignores("build/sub/x.o", is_dir=False)


def test_it_lets_the_last_matching_rule_decide():
    assert not rules("*.log", "!keep.log").ignores("logs/keep.log", is_dir=False)
    assert rules("!keep.log", "*.log").ignores("logs/keep.log", is_dir=False)


def test_it_matches_double_star_segments():
    assert rules("a/**/b").ignores("a/b", is_dir=False)
    assert rules("a/**/b").ignores("a/x/y/b", is_dir=False)
    assert not rules("a/**/b").ignores("xa/b", is_dir=False)
    assert rules("**/b").ignores("b", is_dir=False)
    assert not rules("a/*/b").ignores("a/x/y/b", is_dir=False)
    assert not rules("a*b").ignores("a/b", is_dir=False)


def test_it_reads_escapes_comments_and_trailing_spaces():
    assert rules("\\#hash").ignores("#hash", is_dir=False)
    assert not rules("#hash").ignores("#hash", is_dir=False)
    assert rules("\\!bang").ignores("!bang", is_dir=False)
    assert rules("bar.txt   ").ignores("bar.txt", is_dir=False)
    assert rules("trail.txt\\ ").ignores("trail.txt ", is_dir=False)
    assert not rules("trail.txt\\ ").ignores("trail.txt", is_dir=False)


def test_it_reads_the_amlignore_before_the_gitignore(tmp_path):
    (tmp_path / ".gitignore").write_text("*.log\n")
    assert IgnoreRules.from_folder(tmp_path).source == tmp_path / ".gitignore"
    assert IgnoreRules.from_folder(tmp_path).ignores("a.log", is_dir=False)
    (tmp_path / ".amlignore").write_text("\ufeff# only data\r\ndata/\r\n")
    chosen = IgnoreRules.from_folder(tmp_path)
    assert chosen.source == tmp_path / ".amlignore"
    assert chosen.ignores("data", is_dir=True)
    assert not chosen.ignores("a.log", is_dir=False)


def test_it_ignores_nothing_without_an_ignore_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*\n")
    chosen = IgnoreRules.from_folder(tmp_path)
    assert chosen.source is None
    assert not chosen.ignores("sub/anything", is_dir=False)
