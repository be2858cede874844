"""Plan data <-> YAML text and the wizard's draft: a saved plan reloads to the same fields, the
written YAML means what the draft says, and problems land on the field that caused them."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from installer.plan.draft import (
    NODE_FIELDS,
    SCALAR_FIELDS,
    SERVER_FIELDS,
    NodeDraft,
    PlanDraft,
    ServerDraft,
    dump_plan,
    problem_field,
    problems_under,
    rebase_paths,
)
from installer.plan.model import PlanProblem, parse_plan
from tests.support.plans import SEED_PLAN
from tests.test_bad_input import BAD_YAML, line_of


def seed_draft() -> PlanDraft:
    draft, ignored = PlanDraft.from_yaml(SEED_PLAN.read_text())
    assert ignored == []
    return draft


def test_the_seed_written_by_the_draft_is_the_same_plan(tmp_path):
    original, original_problems = parse_plan(SEED_PLAN.read_text(), tmp_path / "seed.yaml")
    written, written_problems = parse_plan(seed_draft().to_yaml(header="a header"), tmp_path / "seed.yaml")
    assert original_problems == written_problems == []
    assert written == original  # every value, typed as the loader reads it (source aside)


def test_the_seed_keeps_the_design_keys_and_layout():
    text = seed_draft().to_yaml()
    data = yaml.safe_load(text)
    assert list(data) == ["version", "cluster", "distributions", "database", "servers"]
    assert "  hostnames: {worker: worker.esb.wso2.com, mgt: mgt.esb.wso2.com, elb: elb.wso2.com}" in text
    assert "      - {name: worker3, role: worker, offset: 3}" in text
    assert "tenant_range: '*'" in text  # quoted: a bare * is a YAML alias


def test_text_typed_where_a_number_belongs_is_kept_and_reported_on_that_field(tmp_path):
    draft = seed_draft()
    draft.set("cluster.elb_ports.https", "44x3")
    draft.servers[1].nodes[1].offset = "three"
    _, problems = parse_plan(draft.to_yaml(), tmp_path / "plan.yaml")
    fields = {problem_field(problem) for problem in problems}
    assert fields == {"cluster.elb_ports.https", "servers[1].nodes[1].offset"}


def test_a_blank_required_field_is_reported_on_itself_and_a_blank_optional_one_takes_the_default(tmp_path):
    draft = seed_draft()
    draft.set("cluster.hostnames.worker", "")
    draft.set("database.admin_user", "")
    draft.set("cluster.elb_ports.http", "")
    plan, problems = parse_plan(draft.to_yaml(), tmp_path / "plan.yaml")
    assert [problem_field(problem) for problem in problems] == ["cluster.hostnames.worker", "cluster.elb_ports.http"]
    assert plan.database.admin_user == "root"


def test_missing_key_problems_belong_to_the_missing_field():
    problem = PlanProblem("plan.yaml", 3, "servers[0].nodes[1]", "missing key 'role'")
    assert problem_field(problem) == "servers[0].nodes[1].role"
    assert problem_field(PlanProblem("plan.yaml", 1, "(top level)", "missing key 'servers'")) == "(top level)"
    other = PlanProblem("plan.yaml", 4, "servers[10].name", "x")
    assert problems_under([problem, other], "servers[1]") == []
    assert problems_under([problem, other], "servers[0]") == [problem]
    assert problems_under([problem, other], "servers") == [problem, other]


def test_unknown_keys_of_a_loaded_plan_are_named_not_silently_dropped():
    data = yaml.safe_load(SEED_PLAN.read_text())
    data["cluster"]["colour"] = "blue"
    data["servers"][0]["nodes"][0]["heap"] = "2g"
    _, ignored = PlanDraft.from_data(data)
    assert ignored == ["cluster.colour", "servers[0].nodes[0].heap"]


def test_rebase_keeps_relative_paths_naming_the_same_files(tmp_path):
    draft = seed_draft()
    moved = rebase_paths(draft, tmp_path / "a", tmp_path / "a" / "b")
    assert moved.get("distributions.esb") == str(tmp_path / "a" / "wso2esb-4.7.0.zip")
    inside = rebase_paths(draft, tmp_path / "a", tmp_path)
    assert inside.get("distributions.esb") == "a/wso2esb-4.7.0.zip"
    assert moved.servers[0].install_dir == "/opt/wso2"  # absolute paths are left alone
    assert draft.get("distributions.esb") == "wso2esb-4.7.0.zip"  # the original draft is not changed


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_opening_hostile_or_broken_yaml_raises_the_yaml_error_the_wizard_shows(case):
    # The wizard catches yaml.YAMLError when it opens a plan; anything else would take it down.
    edit, needle, _ = BAD_YAML[case]
    text = edit(SEED_PLAN.read_text())
    with pytest.raises(yaml.YAMLError) as caught:
        PlanDraft.from_yaml(text)
    assert f"line {line_of(text, needle)}," in str(caught.value)


def test_ordinary_aliases_still_open():
    text = SEED_PLAN.read_text().replace("install_dir: /opt/wso2           #", "install_dir: &homes /opt/wso2  #")
    text = text.replace("    install_dir: /opt/wso2\n", "    install_dir: *homes\n")
    assert "*homes" in text and "&homes" in text
    draft, ignored = PlanDraft.from_yaml(text)
    assert ignored == [] and [server.install_dir for server in draft.servers] == ["/opt/wso2", "/opt/wso2"]


# --- properties ------------------------------------------------------------------------------------------

# What an operator can type: printable text without surrounding blanks (the draft strips them).
typed = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12).map(str.strip)
numbers = st.integers(min_value=0, max_value=99999).map(str)


def field_text(kind: str) -> st.SearchStrategy[str]:
    # A number typed with leading zeros is read back as the number; any other text as typed.
    return numbers | typed.filter(lambda text: not text.isdigit()) if kind == "int" else typed


node_drafts = st.builds(NodeDraft, name=typed, role=typed,
                        offset=numbers | typed.filter(lambda text: not text.isdigit()),
                        member_port=numbers | typed.filter(lambda text: not text.isdigit()))
server_drafts = st.builds(ServerDraft, name=typed, address=typed, install_dir=typed, hosts_file=typed,
                          nodes=st.lists(node_drafts, max_size=3))
plan_drafts = st.builds(
    PlanDraft,
    settings=st.fixed_dictionaries({spec.path: field_text(spec.kind) for spec in SCALAR_FIELDS}),
    servers=st.lists(server_drafts, max_size=3),
)


def fields_of(draft: PlanDraft) -> tuple:
    return (tuple(draft.get(spec.path) for spec in SCALAR_FIELDS),
            tuple((tuple(getattr(server, key) for key in SERVER_FIELDS),
                   tuple(tuple(getattr(node, key) for key in NODE_FIELDS) for node in server.nodes))
                  for server in draft.servers))


@settings(max_examples=200, deadline=None)
@given(plan_drafts)
def test_a_saved_draft_reloads_to_the_same_fields(draft):
    reloaded, ignored = PlanDraft.from_yaml(draft.to_yaml(header="saved by a test"))
    assert ignored == []
    assert fields_of(reloaded) == fields_of(draft)


scalars = st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none())
plan_like = st.recursive(
    st.dictionaries(st.text(min_size=1, max_size=6), scalars, max_size=4),
    lambda children: st.dictionaries(st.text(min_size=1, max_size=6),
                                     children | st.lists(children, max_size=3), max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(plan_like)
def test_dump_plan_writes_yaml_that_reads_back_as_the_data(data):
    loaded = yaml.safe_load(dump_plan(data))
    assert loaded == (data if data else None)
