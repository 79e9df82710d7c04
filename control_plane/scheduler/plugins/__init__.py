"""The scheduler's plugins, one per file, and the default set upstream enables."""

from __future__ import annotations

from control_plane.scheduler.framework import FilterPlugin, ScorePlugin
from control_plane.scheduler.plugins.node_affinity import NodeAffinity
from control_plane.scheduler.plugins.node_name import NodeName
from control_plane.scheduler.plugins.node_resources_fit import (
    NodeResourcesFit,
    NodeResourcesLeastAllocated,
)
from control_plane.scheduler.plugins.node_unschedulable import NodeUnschedulable
from control_plane.scheduler.plugins.owner_spread import OwnerSpread
from control_plane.scheduler.plugins.taint_toleration import TaintToleration


def default_filters() -> list[FilterPlugin]:
    return [NodeUnschedulable(), NodeName(), TaintToleration(), NodeAffinity(), NodeResourcesFit()]


def default_scores() -> list[ScorePlugin]:
    return [NodeResourcesLeastAllocated(), OwnerSpread(), TaintToleration(), NodeAffinity()]
