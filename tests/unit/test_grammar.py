"""The `/krayne` grammar: Slack text (quirks included) → a Command, or one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.grammar import (
    HELP_TEXT,
    USAGE,
    CreateCommand,
    CreateFormCommand,
    CreateOptions,
    DeleteCommand,
    DescribeCommand,
    ExtendCommand,
    HelpCommand,
    ListCommand,
    ManifestCommand,
    ResumeCommand,
    ScaleCommand,
    SuspendCommand,
    UsageError,
    config_for,
    normalize_slack_text,
    parse_command,
)
from core.config import load_config_from_yaml
from core.errors import ConfigValidationError


def _config(text: str, namespace: str = "default") -> Any:
    cmd = parse_command(text)
    assert isinstance(cmd, CreateCommand | ManifestCommand)
    return config_for(cmd, namespace=cmd.namespace or namespace)


def _usage_error(text: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        parse_command(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpCommand(None)),
        ("   ", HelpCommand(None)),
        ("help", HelpCommand(None)),
        ("help create", HelpCommand("create")),
        ("help get", HelpCommand("describe")),
        ("create --help", HelpCommand("create")),
        ("scale demo -h", HelpCommand("scale")),
        ("create demo", CreateCommand("demo")),
        ("Create demo -n ml", CreateCommand("demo", "ml")),
        ("manifest demo --gpus 2", ManifestCommand("demo", None, CreateOptions(gpus=2))),
        ("list", ListCommand()),
        ("list -n ml --mine", ListCommand("ml", False, True)),
        ("list --all", ListCommand(None, True, False)),
        ("list -A", ListCommand(None, True, False)),
        ("describe demo", DescribeCommand("demo")),
        ("get demo -n ml", DescribeCommand("demo", "ml")),
        ("status demo", DescribeCommand("demo")),
        ("describe demo --all", DescribeCommand("demo", None, include_unmanaged=True)),
        ("delete demo --namespace=ml", DeleteCommand("demo", "ml")),
        ("scale demo --workers 4", ScaleCommand("demo", 4)),
        ("scale demo --workers=4 --group gpu --min 1 --max 8 -n ml",
         ScaleCommand("demo", 4, "gpu", 1, 8, "ml")),
        ("scale demo -r 2 --worker-group cpu --min-replicas 0 --max-replicas 3",
         ScaleCommand("demo", 2, "cpu", 0, 3)),
        ("/krayne list", ListCommand()),
    ],
)  # fmt: skip
def test_commands_parse(text: str, expected: Any) -> None:
    assert parse_command(text) == expected


def test_every_create_flag_and_krayne_alias() -> None:
    cmd = parse_command(
        "create demo --workers 3 --gpus-per-worker 2 --gpu-type nvidia-l4 --cpus 8 --memory 32Gi"
        " --cpus-in-head 2 --memory-in-head 8Gi --head-runs-tasks --image acme/ray:1"
        " --min-workers 1 --max-workers 5 --no-autoscaling --no-notebook --no-code-server --no-ssh"
    )
    assert cmd == CreateCommand(
        "demo",
        None,
        CreateOptions(
            workers=3, gpus=2, gpu_type="nvidia-l4", cpus="8", memory="32Gi", head_cpus="2",
            head_memory="8Gi", head_runs_tasks=True, image="acme/ray:1", min_workers=1,
            max_workers=5, autoscaling=False, notebook=False, code_server=False, ssh=False,
        ),
    )  # fmt: skip
    config = config_for(cmd, namespace="ml")
    group = config.worker_groups[0]
    assert (group.replicas, group.min_replicas, group.max_replicas) == (3, 1, 5)
    assert (group.gpus, group.gpu_type, group.cpus, group.memory) == (2, "nvidia-l4", "8", "32Gi")
    assert config.head.model_dump() == {
        "cpus": "2", "memory": "8Gi", "image": "acme/ray:1", "runs_tasks": True,
    }  # fmt: skip
    assert group.image == "acme/ray:1"
    assert config.namespace == "ml" and not config.autoscaler.enabled
    assert not (config.services.notebook or config.services.code_server or config.services.ssh)


def test_head_aliases_match_ours() -> None:
    assert parse_command("create a --head-cpus 2 --head-memory 8Gi") == parse_command(
        "create a --cpus-in-head 2 --memory-in-head 8Gi"
    )


def test_zero_flags_gives_the_defaults() -> None:
    config = _config("create demo")
    assert config.name == "demo" and config.namespace == "default"
    assert config.worker_groups[0].replicas == 0 and config.autoscaler.enabled


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("create g --gpus 1", (1, 1, 1)),  # one GPU worker that stays up
        ("create g --gpus 2 --min-workers 0", (1, 0, 1)),  # ...that may scale to zero
        ("create g --gpus 1 --workers 3", (3, 0, 3)),
        ("create g --gpus 1 --max-workers 4", (1, 1, 4)),
        ("create g --gpus 0", (0, 0, 1)),
    ],
)
def test_gpus_without_workers_means_one_worker(text: str, bounds: tuple[int, int, int]) -> None:
    group = _config(text).worker_groups[0]
    assert (group.replicas, group.min_replicas, group.max_replicas) == bounds
    assert group.gpus == int(text.split("--gpus ")[1].split()[0])


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("create demo \u2014gpus 1", "create demo --gpus 1"),  # em dash from autocorrect
        ("create demo \u2013gpus 1", "create demo --gpus 1"),  # en dash
        ("create demo \u2014-gpus 1", "create demo --gpus 1"),
        ("list \u2013n ml", "list -n ml"),
        ("create demo --image \u201cacme/ray:1\u201d", 'create demo --image "acme/ray:1"'),
        ("create demo --image \u2018acme/ray:1\u2019", "create demo --image 'acme/ray:1'"),
        ("create demo --image <http://docker.io/x|docker.io/x>", "create demo --image docker.io/x"),
        ("create demo --image <http://docker.io/x>", "create demo --image http://docker.io/x"),
        ("list --mine <@U123|bob>", "list --mine @bob"),
        ("list <@U123>", "list @U123"),
        ("<mailto:a@b.io|a@b.io>", "a@b.io"),
        ("a &amp;&amp; b &lt;x&gt;", "a && b <x>"),
        ("create\u00a0demo", "create demo"),
    ],
)
def test_slack_quirks_are_undone(typed: str, normalized: str) -> None:
    assert normalize_slack_text(typed) == normalized


def test_em_dash_flags_parse_like_double_dashes() -> None:
    assert parse_command("create demo \u2014gpus 1 \u2014no-ssh \u2013n ml") == parse_command(
        "create demo --gpus 1 --no-ssh -n ml"
    )


def test_auto_linked_image_is_unwrapped() -> None:
    config = _config("create demo --image <http://docker.io/acme/ray:2|docker.io/acme/ray:2>")
    assert config.head.image == "docker.io/acme/ray:2"


def test_quoted_values_are_one_word() -> None:
    cmd = parse_command("create demo --gpu-type \u201cnvidia-l4\u201d")
    assert isinstance(cmd, CreateCommand) and cmd.options.gpu_type == "nvidia-l4"


# Acceptance table: each input gives exactly one clear line, and no traceback.
ONE_LINE: list[tuple[str, str]] = [
    ("create Bad_Name!", "name 'Bad_Name!' is not valid: use lowercase letters"),
    ("create " + "a" * 54, "(at most 53 characters)"),
    ("create 9lives", "starting with a letter"),
    ("create demo --gpus -1", "gpus must be a whole number between 0 and 128, got -1"),
    ("create demo --gpus 1e9", "`--gpus` needs a whole number, e.g. `--gpus 1` (got `1e9`)"),
    ("create demo --cpus lots", "cpus 'lots' is not a valid Kubernetes quantity"),
    ("create demo --memory 4Zi", "memory '4Zi' is not a valid Kubernetes quantity"),
    ("create demo --min-workers 3 --workers 1", "min_replicas (3) is more than replicas (1)"),
    ("create -n ml", "`/krayne create` needs a cluster name, e.g. `/krayne create my-cluster"),
    ("create demo --gpu 1", "has no option `--gpu`: did you mean `--gpus`?"),
    ("create demo --turbo", "has no option `--turbo`: see `/krayne help create`"),
    ("creat demo", "Unknown command `creat`. Did you mean `create`?"),
    ("launch demo", "Commands: `create`, `list`, `describe`, `scale`, `delete`, `suspend`,"),
    ("create demo --ttl forever", "`--ttl`: 'forever' is not a duration: use a duration such as"),
    ("suspend", "`/krayne suspend` needs a cluster name"),
    ("resume a b", "Unexpected `b` after the cluster name"),
    ("create demo --gpus", "`--gpus` needs a value, e.g. `--gpus 1`"),
    ("create demo --gpus --workers 2", "`--gpus` needs a value"),
    ("create demo --gpus 1 --gpus-per-worker 2", "is given twice"),
    ("create demo --no-ssh=yes", "`--no-ssh` takes no value"),
    ("create demo -n Team_A", "namespace 'Team_A' is not valid"),
    ("create demo -f c.yaml", "`-f` works only with `krayne-bot manifest`"),
    ("create demo --image 'acme", "A quote is not closed"),
    ("create demo --image \u201cmy image\u201d", "image 'my image' is not valid"),
    ("create demo extra", "Unexpected `extra` after the cluster name"),
    ("describe", "`/krayne describe` needs a cluster name"),
    ("delete Bad_Name!", "name 'Bad_Name!' is not valid"),
    ("list demo", "use `/krayne describe demo`"),
    ("list -n a --all", "either `-n NAMESPACE` or `--all`"),
    ("scale demo", "needs a number of workers, e.g. `/krayne scale demo --workers 4`"),
    ("scale demo --workers 2 --min 3", "`--min` (3) is more than `--workers` (2)"),
    ("scale demo --workers 5 --max 3", "`--max` (3) is less than `--workers` (5)"),
    ("scale demo --workers 5000", "`--workers` must be between 0 and 1000"),
    ("help frobnicate", "Unknown command `frobnicate`"),
]


@pytest.mark.parametrize(("text", "expected"), ONE_LINE, ids=[t for t, _ in ONE_LINE])
def test_bad_input_gives_exactly_one_clear_line(text: str, expected: str) -> None:
    try:
        _config(text) if text.split()[0] == "create" else parse_command(text)
    except UsageError as err:
        lines = [err.message]
        assert err.usage in USAGE.values()
    except ConfigValidationError as err:
        lines = err.problems
    else:
        pytest.fail(f"{text!r} was accepted")
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert expected in lines[0]
    assert "Traceback" not in lines[0] and "pydantic" not in lines[0]


def test_usage_error_carries_the_usage_line_of_the_command() -> None:
    assert _usage_error("scale demo").usage == USAGE["scale"]
    assert _usage_error("nope").usage == USAGE["help"]


def test_yaml_base_is_overridden_by_flags(tmp_path: Path) -> None:
    base = {"name": "from-file", "worker_groups": [{"name": "a", "replicas": 2}, {"name": "b"}]}
    cmd = parse_command("manifest demo --cpus 4 --image acme/ray:1")
    assert isinstance(cmd, ManifestCommand)
    config = config_for(cmd, namespace="ml", base=base)
    assert config.name == "demo" and config.namespace == "ml"
    assert [(g.name, g.replicas, g.cpus, g.image) for g in config.worker_groups] == [
        ("a", 2, "4", "acme/ray:1"),
        ("b", 0, "1", "acme/ray:1"),
    ]
    # a file that says how many replicas wins over the `--gpus` convenience
    gpu = parse_command("manifest demo --gpus 1")
    assert isinstance(gpu, ManifestCommand)
    assert config_for(gpu, namespace="ml", base=base).worker_groups[0].replicas == 2


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("name: Bad_Name!\n", "name 'Bad_Name!' is not valid"),
        ("name: " + "a" * 54 + "\n", "(at most 53 characters)"),
        ("name: 9lives\n", "starting with a letter"),
        ("name: a\nworker_groups:\n- gpus: -1\n", "gpus must be a whole number between 0 and 128"),
        ("name: a\nworker_groups:\n- gpus: 1e9\n", "gpus must be a whole number"),
        ("name: a\nworker_groups:\n- cpus: lots\n", "cpus 'lots' is not a valid"),
        ("name: a\nworker_groups:\n- memory: 4Zi\n", "memory '4Zi' is not a valid"),
        ("name: a\nworker_groups:\n- min_replicas: 3\n  replicas: 1\n", "min_replicas (3)"),
        ("- name: a\n", "must hold a mapping"),
        ("head:\n  cpus: 2\n", "name is required"),
    ],
)
def test_the_same_problems_from_yaml_give_one_line(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigValidationError) as info:
        load_config_from_yaml(path)
    assert len(info.value.problems) == 1 and expected in info.value.problems[0]


def test_help_text_has_examples_and_every_command_has_a_usage_line() -> None:
    assert "/krayne create NAME --gpus 1" in HELP_TEXT
    assert set(USAGE) == {
        "help", "create", "list", "describe", "scale", "delete", "suspend", "resume", "extend",
        "manifest",
    }  # fmt: skip
    assert all(line.startswith("/krayne ") and "\n" not in line for line in USAGE.values())


def _parse_and_configure(text: str) -> None:
    try:
        cmd = parse_command(text)
        if isinstance(cmd, CreateCommand | ManifestCommand):
            config_for(cmd, namespace=cmd.namespace or "default")
    except (UsageError, ConfigValidationError) as err:
        assert str(err).strip()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_only_ever_raises_usage_or_config_errors(text: str) -> None:
    _parse_and_configure(text)


WORDS = st.sampled_from(
    ["create", "manifest", "list", "get", "scale", "delete", "help", "demo", "-n", "--all",
     "--gpus", "--workers", "--min-workers", "--max-workers", "--cpus", "--memory", "--image",
     "--no-ssh", "--head-runs-tasks", "--group", "--min", "--max", "1", "-1", "0", "1e9", "4Gi",
     "lots", "\u2014gpus", "\u201c", "'", "=", "--gpus=2", "<@U1|x>", "&amp;", "Bad_Name!", ""]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=8))
def test_arbitrary_flag_soup_only_ever_raises_usage_or_config_errors(words: list[str]) -> None:
    _parse_and_configure(" ".join(words))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("suspend demo", SuspendCommand("demo")),
        ("resume demo -n ml", ResumeCommand("demo", "ml")),
        ("extend demo", ExtendCommand("demo")),
    ],
)
def test_hygiene_commands_name_one_cluster(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_create_takes_a_ttl_as_people_write_durations() -> None:
    cmd = parse_command("create demo --ttl 1h30m")
    assert isinstance(cmd, CreateCommand) and cmd.options.ttl == "1h30m"


def test_create_alone_opens_the_form() -> None:
    assert parse_command("create") == CreateFormCommand()
