"""Hypothesis strategies for what people (and pastes, and attackers) type into `/krayne` and
into cluster YAML: unicode, control characters, shell metacharacters, huge numbers,
10,000-character strings and flag soup, mixed with enough valid input to reach the manifest."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bot.grammar import _CREATE_FLAGS, _LIST_FLAGS, _SCALE_FLAGS, ALIASES, USAGE

SHELL = ";|&$()<>`'\"*?~#!{}[]\\\n\t\r\x00 —–“”‘’"
FLAGS = sorted({*_CREATE_FLAGS, *_LIST_FLAGS, *_SCALE_FLAGS, "-f", "--file", "-h", "--help"})
VERBS = [*USAGE, *ALIASES, "CREATE", "Create", "—create", "/krayne", "krayne"]
QUANTITIES = ["1", "500m", "2.5", "4Gi", "1.5G", "0", "-1", "1e3", "1E-3", "0.0001", "9Ei",
              "64", "256Gi", "1m", "1Ki", ".5", "5.", "0x10", "NaN", "∞", "٣", "1_000"]  # fmt: skip
IMAGES = ["rayproject/ray:2.53.0-py311", "rayproject/ray:2.60.0-py312-gpu", "docker.io/x/y:1",
          "<http://docker.io/x|docker.io/x>", "UPPER/Case", "ghcr.io/a/b@sha256:" + "a" * 64,
          "x:" + "t" * 200, "registry:5000/ml/ray"]  # fmt: skip

names = st.from_regex(r"[a-z][a-z0-9-]{0,58}", fullmatch=True)
small_ints = st.integers(-3, 40).map(str)
huge_ints = st.one_of(
    st.integers(10**9, 10**40).map(str),
    st.integers(1_000, 6_000).map(lambda n: "9" * n),  # past int()'s 4,300-digit limit
)
unicode_text = st.text(max_size=24)  # every code point but surrogates: control chars included
shell_text = st.text(alphabet=SHELL, min_size=1, max_size=16)
long_text = st.builds(lambda ch, n: ch * n, st.characters(), st.integers(5_000, 10_000))
# Under the grammar's 2,000-character limit, so the echo in each message is what gets clipped.
medium_text = st.builds(lambda ch, n: ch * n, st.characters(), st.integers(80, 600))


values = st.one_of(
    names, small_ints, huge_ints, st.sampled_from(QUANTITIES), st.sampled_from(IMAGES),
    unicode_text, shell_text, medium_text, long_text,
)  # fmt: skip
"""A flag value or a word: mostly plausible, often hostile."""


def _quoted(word: str) -> str:
    return '"' + word.replace('"', "") + '"'


words = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(FLAGS).map(lambda f: f.replace("--", "—", 1)),  # autocorrect's em dash
    st.tuples(st.sampled_from(FLAGS), values).map(lambda p: f"{p[0]}={p[1]}"),
    values,
    values.map(_quoted),
)


_verbs = st.one_of(st.sampled_from(VERBS), values)
_plausible = {
    "int": st.one_of(small_ints, huge_ints),
    "namespace": names,
    "text": st.one_of(st.sampled_from(QUANTITIES), st.sampled_from(IMAGES), names),
}
_flag_values = {
    kind: st.one_of(good, good, values).map(_quoted) for kind, good in _plausible.items()
}


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    """The text after `/krayne`: a verb (or junk), a name, then flag soup."""
    verb = draw(_verbs)
    rest = draw(st.lists(words, max_size=12))
    if draw(st.booleans()):
        rest.insert(0, draw(names))
    return " ".join([verb, *rest])


@st.composite
def create_texts(draw: st.DrawFn) -> str:
    """`create NAME` with create flags and values that are mostly valid: reaches the manifest."""
    parts = ["create", draw(names)]
    for flag in draw(st.lists(st.sampled_from(sorted(_CREATE_FLAGS)), max_size=8, unique=True)):
        if _CREATE_FLAGS[flag].kind == "bool":
            parts.append(flag)
            continue
        parts += [flag, draw(_flag_values[_CREATE_FLAGS[flag].kind])]
    return " ".join(parts)


junk: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), unicode_text,
    shell_text, long_text, huge_ints, st.sampled_from(QUANTITIES),
    st.lists(st.integers(), max_size=3), st.dictionaries(unicode_text, st.integers(), max_size=2),
)  # fmt: skip


def _either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, junk)


_cpus = st.one_of(st.sampled_from(QUANTITIES), st.integers(0, 200), st.floats(0, 100))
_memory = st.sampled_from(["2Gi", "512Mi", "4Gi", "1.5G", "100", "1Ti", "0Gi", "64Gi"])
_group = st.fixed_dictionaries({}, optional={
    "name": _either(names), "replicas": _either(st.integers(0, 30)),
    "min_replicas": _either(st.integers(0, 30)), "max_replicas": _either(st.integers(0, 30)),
    "cpus": _either(_cpus), "memory": _either(_memory), "gpus": _either(st.integers(0, 16)),
    "gpu_type": _either(st.sampled_from(["nvidia-l4", "nvidia-tesla-t4", "a100"])),
    "image": _either(st.sampled_from(IMAGES)),
})  # fmt: skip
_sections = {
    "namespace": _either(names),
    "head": _either(st.fixed_dictionaries({}, optional={
        "cpus": _either(_cpus), "memory": _either(_memory),
        "image": _either(st.sampled_from(IMAGES)), "runs_tasks": _either(st.booleans()),
    })),
    "worker_groups": _either(st.lists(_group, max_size=4)),
    "autoscaler": _either(st.fixed_dictionaries({}, optional={
        "enabled": _either(st.booleans()), "idle_timeout_seconds": _either(st.integers(0, 10**6)),
        "upscaling_mode": _either(st.sampled_from(["Default", "Aggressive", "Conservative"])),
        "cpu": _either(_cpus), "memory": _either(_memory),
    })),
    "services": _either(st.fixed_dictionaries({}, optional={
        "notebook": _either(st.booleans()), "code_server": _either(st.booleans()),
        "ssh": _either(st.booleans()),
    })),
}  # fmt: skip
configs: st.SearchStrategy[Any] = st.one_of(
    st.builds(
        lambda base, extra: {**extra, **base},
        st.fixed_dictionaries({"name": _either(names)}, optional=_sections),
        st.dictionaries(st.one_of(unicode_text, long_text), junk, max_size=2),
    ),
    junk,
)
override_paths = st.one_of(
    st.sampled_from(["name", "namespace", "head.cpus", "head.memory", "worker_groups.0.gpus",
                     "worker_groups.1.replicas", "worker_groups.0.name", "autoscaler.enabled",
                     "services.ssh", "worker_groups.²", "worker_groups.99999999999999999.gpus",
                     "name.first", "worker_groups.0.0", "head", ""]),
    st.lists(st.one_of(unicode_text, small_ints), min_size=1, max_size=4).map(".".join),
)  # fmt: skip
overrides = st.dictionaries(override_paths, st.one_of(junk, names, st.integers(0, 8)), max_size=4)
