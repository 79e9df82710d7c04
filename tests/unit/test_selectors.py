from __future__ import annotations

import pytest

from ku7s.api.selectors import FieldSelector, LabelSelector, SelectorError, field_value

LABELS = {"app": "web", "tier": "frontend", "env": "prod"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app=db", False),
        ("app in (web, db)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=web,env in (prod,staging),!debug", True),
        ("app=web,env=dev", False),
    ],
)
def test_label_selectors(selector, matches):
    assert LabelSelector.parse(selector).matches(LABELS) is matches


@pytest.mark.parametrize("selector", ["app in (web", "=x", "app=bad value", "a,,b"])
def test_bad_label_selectors(selector):
    with pytest.raises(SelectorError):
        LabelSelector.parse(selector)


def test_field_selectors():
    node = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert FieldSelector.parse("metadata.name=n1").matches(node, field_value)
    assert not FieldSelector.parse("metadata.name!=n1").matches(node, field_value)
    assert FieldSelector.parse("spec.unschedulable=true").matches(node, field_value)
    assert FieldSelector.parse("spec.missing=").matches(node, field_value)
    assert FieldSelector.parse("metadata.name=n1,spec.unschedulable==true").paths == {
        "metadata.name",
        "spec.unschedulable",
    }
    with pytest.raises(SelectorError):
        FieldSelector.parse("metadata.name")
