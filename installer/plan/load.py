"""Reading plan YAML safely: the bounded loader every plan goes through, the engine's
(``installer.plan.model``) and the wizard's (``installer.plan.draft``) alike.
"""

from __future__ import annotations

from typing import Any

import yaml

# A plan is a few levels deep (servers[0].nodes[1].offset) and a few hundred values long; these
# limits are far above any real plan and far below what hurts. PyYAML composes nested values by
# recursion, so unbounded nesting ends in RecursionError; and aliases of aliases of lists
# ("billion laughs") expand exponentially wherever the composed tree is walked.
MAX_NESTING = 50
MAX_PLAN_VALUES = 100_000

_CORE_TAG = "tag:yaml.org,2002:"
_TAG_KINDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "null": "empty",
              "timestamp": "a date", "binary": "base64 data"}


class PlanYAMLError(yaml.MarkedYAMLError):
    """YAML that parses but that no plan is made of; names the line and what to do."""

    def __init__(self, problem: str, mark: yaml.Mark | None, hint: str = "") -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


def short_tag(tag: str) -> str:
    """A tag as written in the file: ``!!int``, ``!!python/object:os.system``, ``!foo``."""
    return "!!" + tag[len(_CORE_TAG):] if tag.startswith(_CORE_TAG) else tag


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class PlanLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with limits, for every plan the engine or the wizard reads.

    Aliases are bounded, not refused: repeating a value with an anchor (``install_dir: &homes
    /opt/wso2`` ... ``install_dir: *homes``) is ordinary YAML an operator may well write. What is
    refused, each as a ``PlanYAMLError`` at the offending line: nesting deeper than MAX_NESTING,
    more than MAX_PLAN_VALUES values once aliases are expanded (counted while composing, so the
    expansion itself never happens), an alias inside the value it names, tags outside YAML's
    safe schema (``!!python/object``, ``!foo``), and a value its tag cannot read (``!!int abc``).
    Only ``yaml.YAMLError`` ever leaves it: that is what every caller catches.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0  # composed so far, aliases counted as what they stand for
        self._expanded: dict[int, int] = {}  # id(node) -> values it stands for, once complete

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._expanded.get(id(node))
            if size is None:  # the anchored value is still being composed
                raise PlanYAMLError(f"the alias *{event.anchor} is used inside the value it names", event.start_mark,
                                    "an alias can only repeat a value that is already complete")
            self._count(size, event)
            return node
        if self._depth >= MAX_NESTING:
            raise PlanYAMLError(f"values are nested more than {MAX_NESTING} levels deep", event.start_mark,
                                "a plan needs only a few levels: check the brackets and the indentation")
        self._count(1, event)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._expanded[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._expanded[id(key)] + self._expanded[id(value)] for key, value in node.value)
        self._expanded[id(node)] = size
        return node

    def _count(self, values: int, event: yaml.Event) -> None:
        self._values += values
        if self._values > MAX_PLAN_VALUES:
            what = "aliases here expand the plan" if isinstance(event, yaml.AliasEvent) else "the plan grows"
            raise PlanYAMLError(f"{what} past {MAX_PLAN_VALUES} values", event.start_mark,
                                "a plan needs far fewer: write the values out, or use fewer aliases of aliases")

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        old_deep = self.deep_construct
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as error:  # a tag's reader raises whatever its parsing raises:
            # ValueError for !!int abc, KeyError for !!bool maybe, AttributeError for a bad
            # !!timestamp... All mean the same to the operator.
            kind = node.tag[len(_CORE_TAG):] if node.tag.startswith(_CORE_TAG) else node.tag
            shown, hint = "this value", "check the value"
            if isinstance(node.value, str):
                shown = _shown(node.value)
                if self.resolve(yaml.ScalarNode, node.value, (True, False)) != node.tag:
                    hint = f"check the value; a plan needs no tags such as {short_tag(node.tag)}"
            raise PlanYAMLError(f"{shown} cannot be read as {_TAG_KINDS.get(kind, short_tag(node.tag))}",
                                node.start_mark, hint) from error
        finally:
            # What a failed read leaves behind would make the next alias of this node look recursive.
            self.recursive_objects.pop(node, None)
            self.deep_construct = old_deep

    def construct_unknown_tag(self, node: yaml.Node) -> Any:
        raise PlanYAMLError(f"the tag {short_tag(node.tag)} is not used in plans", node.start_mark,
                            "remove it: a plan holds plain text, numbers, true/false, lists and mappings")


PlanLoader.add_constructor(None, PlanLoader.construct_unknown_tag)
